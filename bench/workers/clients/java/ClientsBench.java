import ia.executor.v1.Message.Run;
import ia.executor.v1.Message.RunState;
import io.iamodules.sdk.IAClient;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Times StartRun-and-wait of a registered pipeline with the Java SDK and prints one
 * JSON line: {"p50_ms", "p99_ms", "failed", "samples"}.
 *
 * <p>{@code java ClientsBench --endpoint HOST:PORT --pipeline NAME [--iterations N] [--warmup N]}
 */
public final class ClientsBench {
  private ClientsBench() {}

  public static void main(String[] args) {
    Map<String, String> options = new HashMap<>(Map.of("--iterations", "200", "--warmup", "10"));
    for (int i = 0; i + 1 < args.length; i += 2) {
      options.put(args[i], args[i + 1]);
    }
    String endpoint = options.get("--endpoint");
    String pipeline = options.get("--pipeline");
    int iterations = Integer.parseInt(options.get("--iterations"));
    int warmup = Integer.parseInt(options.get("--warmup"));
    try (IAClient client = IAClient.builder().endpoint(endpoint).build()) {
      for (int i = 0; i < warmup; i++) {
        run(client, pipeline);
      }
      List<Double> times = new ArrayList<>();
      int failed = 0;
      for (int i = 0; i < iterations; i++) {
        long start = System.nanoTime();
        boolean succeeded = run(client, pipeline);
        times.add((System.nanoTime() - start) / 1e6);
        if (!succeeded) {
          failed++;
        }
      }
      System.out.printf(
          "{\"p50_ms\": %f, \"p99_ms\": %f, \"failed\": %d, \"samples\": %d}%n",
          median(times), percentile(times, 99), failed, times.size());
    }
  }

  private static boolean run(IAClient client, String pipeline) {
    Run started = client.startRun(pipeline, Map.of("count", 1));
    return client.waitRun(started.getRunId()).getState() == RunState.RUN_STATE_SUCCEEDED;
  }

  // Same definitions as bench/measure.py: median, and nearest-rank percentiles.
  private static double median(List<Double> samples) {
    List<Double> sorted = new ArrayList<>(samples);
    Collections.sort(sorted);
    int middle = sorted.size() / 2;
    return sorted.size() % 2 == 1 ? sorted.get(middle) : (sorted.get(middle - 1) + sorted.get(middle)) / 2;
  }

  private static double percentile(List<Double> samples, double q) {
    List<Double> sorted = new ArrayList<>(samples);
    Collections.sort(sorted);
    return sorted.get(Math.max(1, (int) Math.ceil(q / 100 * sorted.size())) - 1);
  }
}
