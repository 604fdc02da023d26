package io.iamodules.sdk;

import ia.executor.v1.ExecutorServiceGrpc;
import ia.executor.v1.Message.RunEvent;
import ia.executor.v1.RequestResponse.WatchRunRequest;
import ia.executor.v1.RequestResponse.WatchRunResponse;
import io.grpc.Context;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.util.ArrayDeque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * A run's events, read as they come; see {@link IAClient#watchRun}. Close it (or use
 * try-with-resources) to hang up before the run ends.
 */
public final class RunEvents implements Iterator<RunEvent>, Iterable<RunEvent>, AutoCloseable {
  /** How often a broken stream is reopened before giving up. */
  public static final int RECONNECT_ATTEMPTS = 8;

  private final Endpoint endpoint;
  private final String runId;
  private final long fromSequence;
  private long last;
  private int failures;
  private Context.CancellableContext context;
  private Iterator<WatchRunResponse> stream;
  // The rest of the last batched response, handed out one by one.
  private final ArrayDeque<RunEvent> pending = new ArrayDeque<>();
  private RunEvent next;
  private boolean ended;

  RunEvents(Endpoint endpoint, String runId, long fromSequence) {
    this.endpoint = endpoint;
    this.runId = runId;
    this.fromSequence = fromSequence;
    this.last = fromSequence;
  }

  /** The sequence number of the last event read (or the one it started after). */
  public long lastSequence() {
    return last;
  }

  @Override
  public boolean hasNext() {
    while (next == null && !ended) {
      if (!pending.isEmpty()) {
        next = pending.poll();
        last = next.getSequence();
        failures = 0;
        break;
      }
      if (stream == null) {
        open();
      }
      try {
        if (stream.hasNext()) {
          pending.addAll(events(stream.next()));
        } else {
          close();
        }
      } catch (StatusRuntimeException error) {
        boolean resumable = error.getStatus().getCode() == Status.Code.UNAVAILABLE && last > fromSequence;
        close();
        if (!resumable || failures >= RECONNECT_ATTEMPTS) {
          throw endpoint.error(error);
        }
        failures++;
        pause(Math.min(200L << (failures - 1), 2000L));
        ended = false;
      }
    }
    return next != null;
  }

  @Override
  public RunEvent next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the run has ended");
    }
    RunEvent event = next;
    next = null;
    return event;
  }

  /** Iterates this stream once. */
  @Override
  public Iterator<RunEvent> iterator() {
    return this;
  }

  /** Hangs up. */
  @Override
  public void close() {
    ended = true;
    pending.clear();
    stream = null;
    if (context != null) {
      context.cancel(null);
      context = null;
    }
  }

  private void open() {
    context = Context.current().withCancellation();
    WatchRunRequest request = WatchRunRequest.newBuilder().setRunId(runId).setFromSequence(last).setBatch(true).build();
    Context previous = context.attach();
    try {
      stream = ExecutorServiceGrpc.newBlockingStub(endpoint.calls).watchRun(request);
    } finally {
      context.detach(previous);
    }
  }

  /**
   * The events of a WatchRun response: several when batched, else the one (a
   * server that predates batching always sends one).
   */
  static List<RunEvent> events(WatchRunResponse response) {
    return response.getEventsCount() > 0 ? response.getEventsList() : List.of(response.getEvent());
  }

  private static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException interrupted) {
      Thread.currentThread().interrupt();
      throw new IAException(
          Status.Code.CANCELLED, "interrupted", null, java.util.Map.of(), java.util.List.of(), null, false, interrupted);
    }
  }
}
