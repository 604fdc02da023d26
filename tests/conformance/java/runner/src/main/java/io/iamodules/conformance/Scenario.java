package io.iamodules.conformance;

import com.google.gson.Gson;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One scenario of tests/conformance/scenarios.json, run through the handlers of one
 * driver: the same rules as tests/conformance/python/scenario.py.
 */
final class Scenario {
  /** One step kind: returns what {@code expect} is checked against, and what {@code save} keeps. */
  interface Handler {
    Result run(Map<String, Object> step);
  }

  record Result(Map<String, Object> values, Object saved) {}

  static final class Failed extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Failed(String message) {
      super(message);
    }
  }

  private static final Pattern REFERENCE = Pattern.compile("^\\$([a-z_][a-z0-9_]*)((?:\\.[a-z_][a-z0-9_]*)*)$");
  private static final Gson GSON = new Gson();

  private final List<Map<String, Object>> steps;
  private final Map<String, Object> pipelines;
  private final Map<String, Handler> handlers;
  private final Map<String, Object> saved = new LinkedHashMap<>();

  Scenario(List<Map<String, Object>> steps, Map<String, Object> pipelines, Map<String, Handler> handlers) {
    this.steps = steps;
    this.pipelines = pipelines;
    this.handlers = handlers;
  }

  /** A JSON-shaped copy: numbers become Double, as in the scenario file. */
  static Object plain(Object value) {
    return GSON.fromJson(GSON.toJson(value), Object.class);
  }

  static String show(Object value) {
    return GSON.toJson(plain(value));
  }

  static boolean jsonEqual(Object want, Object got) {
    Object w = plain(want);
    Object g = plain(got);
    if (w instanceof Double a && g instanceof Double b) {
      return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
    }
    if (w instanceof List<?> a && g instanceof List<?> b) {
      if (a.size() != b.size()) {
        return false;
      }
      for (int i = 0; i < a.size(); i++) {
        if (!jsonEqual(a.get(i), b.get(i))) {
          return false;
        }
      }
      return true;
    }
    if (w instanceof Map<?, ?> a && g instanceof Map<?, ?> b) {
      return a.keySet().equals(b.keySet()) && a.keySet().stream().allMatch(k -> jsonEqual(a.get(k), b.get(k)));
    }
    return Objects.equals(w, g);
  }

  private Object resolve(Object value) {
    if (value instanceof String text) {
      Matcher match = REFERENCE.matcher(text);
      if (!match.matches()) {
        return text;
      }
      if (!saved.containsKey(match.group(1))) {
        throw new Failed(text + ": no earlier step saved `" + match.group(1) + "`");
      }
      Object resolved = saved.get(match.group(1));
      for (String part : match.group(2).split("\\.")) {
        if (!part.isEmpty()) {
          resolved = ((Map<?, ?>) resolved).get(part);
        }
      }
      return resolved;
    }
    if (value instanceof Map<?, ?> map) {
      Map<String, Object> out = new LinkedHashMap<>();
      map.forEach((k, v) -> out.put((String) k, resolve(v)));
      return out;
    }
    if (value instanceof List<?> list) {
      List<Object> out = new ArrayList<>();
      list.forEach(item -> out.add(resolve(item)));
      return out;
    }
    return value;
  }

  void run() {
    Set<String> unsupported = new TreeSet<>();
    for (Map<String, Object> step : steps) {
      String kind = (String) step.get("kind");
      if (!handlers.containsKey(kind) && !kind.equals("check_sequence")) {
        unsupported.add(kind);
      }
    }
    if (!unsupported.isEmpty()) {
      throw new Failed("this runner does not support the step kind(s) " + unsupported);
    }
    for (int i = 0; i < steps.size(); i++) {
      Map<String, Object> raw = steps.get(i);
      try {
        @SuppressWarnings("unchecked")
        Map<String, Object> step = (Map<String, Object>) resolve(raw);
        step(step);
      } catch (Failed | CallFailed failure) {
        throw new Failed("step " + (i + 1) + " (" + raw.get("kind") + "): " + failure.getMessage());
      }
    }
  }

  @SuppressWarnings("unchecked")
  private void step(Map<String, Object> step) {
    String kind = (String) step.get("kind");
    if (kind.equals("check_sequence")) {
      List<Object> parts = new ArrayList<>();
      ((List<String>) step.get("parts")).forEach(name -> parts.add(saved.get(name)));
      checkSequence(parts, saved.get((String) step.get("against")));
      return;
    }
    if (kind.equals("create_pipeline")) {
      Map<String, Object> definition = (Map<String, Object>) plain(pipelines.get((String) step.get("pipeline")));
      if (step.containsKey("name")) {
        definition.put("name", step.get("name"));
      }
      step.put("definition", definition);
    }
    Map<String, Object> expectError = (Map<String, Object>) step.get("expect_error");
    Result result;
    try {
      result = handlers.get(kind).run(step);
    } catch (CallFailed error) {
      if (expectError == null) {
        throw new Failed("the call failed: " + error.code + " " + error.getMessage());
      }
      checkError(expectError, error);
      return;
    }
    if (expectError != null) {
      throw new Failed("expected the call to fail with " + show(expectError) + ", it returned " + show(result.values()));
    }
    checkResult((Map<String, Object>) step.getOrDefault("expect", Map.of()), result.values());
    if (step.get("save") instanceof String name) {
      saved.put(name, plain(result.saved()));
    }
  }

  private static void checkResult(Map<String, Object> expect, Map<String, Object> result) {
    for (Map.Entry<String, Object> entry : expect.entrySet()) {
      String key = entry.getKey();
      Object want = entry.getValue();
      if (key.equals("min_pages")) {
        if (((Number) result.get("pages")).doubleValue() < ((Number) want).doubleValue()) {
          throw new Failed("expected at least " + want + " pages, got " + result.get("pages"));
        }
        continue;
      }
      if (!result.containsKey(key)) {
        throw new Failed("the step has no result `" + key + "` to check");
      }
      Object got = result.get(key);
      if (key.equals("run_ids")) {
        want = sorted(want);
        got = sorted(got);
      }
      if (!jsonEqual(want, got)) {
        throw new Failed(key + ": expected " + show(want) + ", got " + show(got));
      }
    }
  }

  private static List<String> sorted(Object ids) {
    List<String> out = new ArrayList<>();
    ((List<?>) ids).forEach(id -> out.add((String) id));
    out.sort(null);
    return out;
  }

  @SuppressWarnings("unchecked")
  private static void checkError(Map<String, Object> expect, CallFailed error) {
    String shown = error.code + " " + error.getMessage();
    if (expect.get("code") instanceof String code && !code.equals(error.code)) {
      throw new Failed("expected code " + code + ", got " + shown);
    }
    if (expect.get("reason") instanceof String reason && !reason.equals(error.reason)) {
      throw new Failed("expected reason " + reason + ", got " + error.reason + " (" + shown + ")");
    }
    ((Map<String, Object>) expect.getOrDefault("metadata", Map.of())).forEach((key, value) -> {
      if (!Objects.equals(error.metadata.get(key), value)) {
        throw new Failed("expected metadata " + key + "=" + value + ", got " + error.metadata);
      }
    });
    Set<String> fields = new HashSet<>(error.fields);
    for (Object wanted : (List<Object>) expect.getOrDefault("fields", List.of())) {
      if (!fields.contains(wanted)) {
        throw new Failed("expected a field violation on " + wanted + ", got " + error.fields);
      }
    }
    if (expect.get("unreachable") instanceof Boolean unreachable && unreachable != error.unreachable) {
      throw new Failed("expected unreachable=" + unreachable + ", got " + error.unreachable + " (" + shown + ")");
    }
    if (expect.get("message_contains") instanceof String text && !error.getMessage().contains(text)) {
      throw new Failed("expected the message to contain \"" + text + "\", got \"" + error.getMessage() + "\"");
    }
  }

  /** The parts, one after another, are events 1..N without gaps or repeats, as in {@code against}. */
  @SuppressWarnings("unchecked")
  private static void checkSequence(List<Object> parts, Object against) {
    List<Object> events = new ArrayList<>();
    parts.forEach(part -> events.addAll((List<Object>) ((Map<String, Object>) plain(part)).get("events")));
    for (int i = 0; i < events.size(); i++) {
      double sequence = ((Number) ((List<Object>) events.get(i)).get(0)).doubleValue();
      if (sequence != i + 1) {
        throw new Failed("the reconnected watch has gaps or repeats: " + show(events));
      }
    }
    Object full = ((Map<String, Object>) plain(against)).get("events");
    if (!jsonEqual(events, full)) {
      throw new Failed("the reconnected watch saw " + show(events) + ", one watch saw " + show(full));
    }
  }
}
