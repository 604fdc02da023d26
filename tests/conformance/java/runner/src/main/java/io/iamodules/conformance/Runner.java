package io.iamodules.conformance;

import com.google.gson.Gson;
import ia.executor.v1.Message.HumanTask;
import ia.executor.v1.Message.Run;
import ia.executor.v1.Message.RunEvent;
import ia.executor.v1.Message.Breakpoint;
import ia.executor.v1.Message.PausedStep;
import ia.executor.v1.RequestResponse.InspectRunResponse;
import ia.executor.v1.RequestResponse.ListRunsRequest;
import ia.executor.v1.RequestResponse.ListRunsResponse;
import ia.registry.v1.Message.PipelineVersion;
import io.iamodules.sdk.FieldViolation;
import io.iamodules.sdk.IAClient;
import io.iamodules.sdk.IAException;
import io.iamodules.sdk.RunEvents;
import io.iamodules.sdk.Values;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Runs tests/conformance/scenarios.json with the Java SDK. Prints one JSON line per
 * scenario, then {@code java: N passed, N failed}; exits 1 if any failed.
 *
 * <pre>
 * java -cp runner/target/classes:$(cat runner/target/classpath.txt) io.iamodules.conformance.Runner \
 *   --endpoint 127.0.0.1:8080 --namespace java-1 --scenarios tests/conformance/scenarios.json
 * </pre>
 */
public final class Runner {
  private static final Gson GSON = new Gson();

  private final IAClient client;

  private Runner(IAClient client) {
    this.client = client;
  }

  @SuppressWarnings("unchecked")
  public static void main(String[] args) throws IOException {
    Map<String, String> options = new LinkedHashMap<>();
    Set<String> only = new HashSet<>();
    for (int i = 0; i + 1 < args.length; i += 2) {
      if (args[i].equals("--only")) {
        only.add(args[i + 1]);
      } else {
        options.put(args[i].replaceFirst("^--", ""), args[i + 1]);
      }
    }
    if (!options.containsKey("endpoint") || !options.containsKey("namespace") || !options.containsKey("scenarios")) {
      System.err.println("usage: Runner --endpoint HOST:PORT --namespace NS --scenarios FILE [--only NAME]");
      System.exit(2);
    }
    String text = Files.readString(Path.of(options.get("scenarios"))).replace("${ns}", options.get("namespace"));
    Map<String, Object> document = GSON.fromJson(text, Map.class);
    int passed = 0;
    int failed = 0;
    try (IAClient client = IAClient.builder().endpoint(options.get("endpoint")).build()) {
      Map<String, Scenario.Handler> handlers = new Runner(client).handlers();
      for (Map<String, Object> spec : (List<Map<String, Object>>) document.get("scenarios")) {
        String name = (String) spec.get("name");
        if (!only.isEmpty() && !only.contains(name)) {
          continue;
        }
        String error = null;
        try {
          new Scenario((List<Map<String, Object>>) spec.get("steps"), (Map<String, Object>) document.get("pipelines"), handlers)
              .run();
          passed++;
        } catch (Scenario.Failed failure) {
          error = failure.getMessage();
          failed++;
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("runner", "java");
        line.put("scenario", name);
        line.put("passed", error == null);
        line.put("error", error);
        System.out.println(new com.google.gson.GsonBuilder().serializeNulls().create().toJson(line));
      }
    }
    System.out.println("java: " + passed + " passed, " + failed + " failed");
    System.exit(failed > 0 ? 1 : 0);
  }

  private Map<String, Scenario.Handler> handlers() {
    Map<String, Scenario.Handler> table = new LinkedHashMap<>();
    table.put("create_pipeline", this::createPipeline);
    table.put("get_pipeline", this::getPipeline);
    table.put("list_pipelines", this::listPipelines);
    table.put("delete_pipeline", this::deletePipeline);
    table.put("start_run", this::startRun);
    table.put("wait_run", step -> runResult(client.waitRun((String) step.get("run"))));
    table.put("get_run", step -> runResult(client.getRun((String) step.get("run"))));
    table.put("cancel_run", step -> runResult(client.cancelRun((String) step.get("run"), text(step, "reason"))));
    table.put("watch_run", this::watchRun);
    table.put("list_runs", this::listRuns);
    table.put("find_task", this::findTask);
    table.put("submit_input", this::submitInput);
    table.put("unreachable", this::unreachable);
    table.put("inspect_run", this::inspectRun);
    table.put("step_run", step -> runResult(client.stepRun((String) step.get("run"), text(step, "step_id"), edits(step))));
    table.put("resume_run", step -> runResult(client.resumeRun((String) step.get("run"), text(step, "step_id"), edits(step))));
    Map<String, Scenario.Handler> wrapped = new LinkedHashMap<>();
    table.forEach((kind, handler) -> wrapped.put(kind, step -> {
      try {
        return handler.run(step);
      } catch (IAException error) {
        throw failed(error);
      }
    }));
    return wrapped;
  }

  /** The SDK's exception, normalized for the scenario's expect_error. */
  private static CallFailed failed(IAException error) {
    List<String> fields = error.fieldViolations().stream().map(FieldViolation::field).collect(Collectors.toList());
    return new CallFailed(
        error.code().name(), error.getMessage(), error.reason(), error.metadata(), fields, error.unreachable());
  }

  private static String text(Map<String, Object> step, String key) {
    Object value = step.get(key);
    return value == null ? "" : (String) value;
  }

  private static int number(Map<String, Object> step, String key) {
    Object value = step.get(key);
    return value == null ? 0 : ((Number) value).intValue();
  }

  private static String trim(String name, String prefix) {
    return name.startsWith(prefix) ? name.substring(prefix.length()) : name;
  }

  private static Scenario.Result runResult(Run run) {
    Map<String, Object> steps = new LinkedHashMap<>();
    run.getStepsList().forEach(s -> steps.put(s.getStepId(), trim(s.getState().name(), "STEP_STATE_")));
    Map<String, Object> values = new LinkedHashMap<>();
    values.put("state", trim(run.getState().name(), "RUN_STATE_"));
    values.put("outputs", Values.fromStruct(run.getOutputs()));
    values.put("steps", steps);
    return new Scenario.Result(values, run.getRunId());
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> edits(Map<String, Object> step) {
    return (Map<String, Object>) step.get("inputs");
  }

  private Scenario.Result inspectRun(Map<String, Object> step) {
    InspectRunResponse inspection = client.inspectRun((String) step.get("run"));
    Map<String, Object> inputs = new LinkedHashMap<>();
    inspection.getPausedList().forEach(p -> inputs.put(p.getStepId(), Values.fromStruct(p.getInput())));
    Map<String, Object> values = new LinkedHashMap<>();
    values.put("state", trim(inspection.getRun().getState().name(), "RUN_STATE_"));
    values.put("paused", inspection.getPausedList().stream().map(PausedStep::getStepId).sorted().toList());
    values.put("inputs", inputs);
    values.put("outputs", Values.fromStruct(inspection.getOutputs()));
    return new Scenario.Result(values, inspection.getRun().getRunId());
  }

  private Scenario.Result createPipeline(Map<String, Object> step) {
    var created = client.createPipeline(Values.pipelineFromJson(GSON.toJson(step.get("definition"))));
    return new Scenario.Result(Map.of("revision", created.getPipeline().getRevision()), created.getPipeline().getName());
  }

  private Scenario.Result getPipeline(Map<String, Object> step) {
    PipelineVersion version = client.getPipeline((String) step.get("name"), number(step, "revision"));
    List<String> ids = version.getDefinition().getStepsList().stream().map(s -> s.getId()).collect(Collectors.toList());
    return new Scenario.Result(Map.of("revision", version.getRevision(), "step_ids", ids), version.getName());
  }

  private Scenario.Result listPipelines(Map<String, Object> step) {
    List<String> names =
        client.listPipelines(text(step, "prefix"), number(step, "page_size")).map(PipelineVersion::getName).toList();
    return new Scenario.Result(Map.of("names", names), names);
  }

  private Scenario.Result deletePipeline(Map<String, Object> step) {
    return new Scenario.Result(Map.of("deleted_revisions", client.deletePipeline((String) step.get("name"), "")), null);
  }

  @SuppressWarnings("unchecked")
  private Scenario.Result startRun(Map<String, Object> step) {
    List<String> ids = new ArrayList<>();
    Map<String, Object> inputs = (Map<String, Object>) step.getOrDefault("inputs", Map.of());
    for (int i = 0; i < Math.max(1, number(step, "count")); i++) {
      List<Breakpoint> breakpoints =
          ((List<String>) step.getOrDefault("breakpoints", List.of())).stream().map(IAClient::breakpoint).toList();
      ids.add(client.startRun((String) step.get("pipeline"), inputs, breakpoints, Map.of()).getRunId());
    }
    return new Scenario.Result(Map.of("run_ids", ids), step.containsKey("count") ? ids : ids.get(0));
  }

  private Scenario.Result watchRun(Map<String, Object> step) {
    long from = number(step, "from_sequence");
    String until = (String) step.get("until");
    List<List<Object>> events = new ArrayList<>();
    Object outputs = null;
    Object finalState = null;
    boolean found = false;
    try (RunEvents stream = client.watchRun((String) step.get("run"), from)) {
      for (RunEvent event : stream) {
        String kind = event.getKindCase().name().toLowerCase();
        events.add(List.of(event.getSequence(), kind));
        if (event.hasOutputs()) {
          outputs = Values.fromStruct(event.getOutputs().getOutputs());
        }
        if (event.hasRunStateChanged()) {
          finalState = trim(event.getRunStateChanged().getState().name(), "RUN_STATE_");
        }
        if (kind.equals(until)) {
          found = true;
          break;
        }
      }
    }
    if (!until.equals("end") && !found) {
      throw CallFailed.of("the stream ended without a " + until + " event: " + Scenario.show(events));
    }
    Object last = events.isEmpty() ? from : events.get(events.size() - 1).get(0);
    Map<String, Object> values = new LinkedHashMap<>();
    values.put("first_sequence", events.isEmpty() ? null : events.get(0).get(0));
    values.put("final_state", finalState);
    values.put("outputs", outputs);
    values.put("last", last);
    return new Scenario.Result(values, Map.of("events", events, "last", last));
  }

  private Scenario.Result listRuns(Map<String, Object> step) {
    String pipeline = (String) step.get("pipeline");
    int size = number(step, "page_size");
    // The raw stub counts the pages; the SDK's stream hides them.
    List<String> paged = new ArrayList<>();
    int pages = 0;
    ListRunsRequest.Builder request = ListRunsRequest.newBuilder().setPipelineName(pipeline).setPageSize(size);
    while (true) {
      ListRunsResponse page;
      try {
        page = client.executor().listRuns(request.build());
      } catch (io.grpc.StatusRuntimeException error) {
        throw CallFailed.of(error.getStatus().toString());
      }
      pages++;
      if (page.getRunsCount() > size) {
        throw CallFailed.of("a page of " + page.getRunsCount() + " runs, over page_size " + size);
      }
      page.getRunsList().forEach(run -> paged.add(run.getRunId()));
      if (page.getNextPageToken().isEmpty()) {
        break;
      }
      request.setPageToken(page.getNextPageToken());
    }
    List<String> listed = client.listRuns(pipeline, List.of(), size).map(Run::getRunId).toList();
    if (!listed.equals(paged)) {
      throw CallFailed.of("the SDK listed " + listed + ", the pages held " + paged);
    }
    return new Scenario.Result(Map.of("run_ids", listed, "pages", pages), listed);
  }

  private Scenario.Result findTask(Map<String, Object> step) {
    List<HumanTask> tasks = client.listHumanTasks((String) step.get("run")).toList();
    Map<String, Object> values = new LinkedHashMap<>();
    values.put("count", tasks.size());
    if (tasks.isEmpty()) {
      return new Scenario.Result(values, null);
    }
    HumanTask task = tasks.get(0);
    values.put("step_id", task.getStepId());
    values.put("state", trim(task.getState().name(), "HUMAN_TASK_STATE_"));
    values.put("data", Values.fromStruct(task.getData()));
    return new Scenario.Result(values, task.getTaskId());
  }

  @SuppressWarnings("unchecked")
  private Scenario.Result submitInput(Map<String, Object> step) {
    HumanTask task =
        client.submitHumanInput((String) step.get("task"), (Map<String, Object>) step.get("data"), "conformance");
    return new Scenario.Result(
        Map.of("state", trim(task.getState().name(), "HUMAN_TASK_STATE_")), task.getTaskId());
  }

  private Scenario.Result unreachable(Map<String, Object> step) {
    Duration deadline = Duration.ofSeconds(number(step, "deadline_seconds"));
    try (IAClient other = IAClient.builder().endpoint((String) step.get("endpoint")).timeout(deadline).build()) {
      other.getPipeline("conformance");
    }
    return new Scenario.Result(Map.of(), null);
  }

}
