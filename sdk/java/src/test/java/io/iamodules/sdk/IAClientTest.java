package io.iamodules.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import ia.executor.v1.ExecutorServiceGrpc;
import ia.executor.v1.Message.HumanTask;
import ia.executor.v1.Message.Run;
import ia.executor.v1.Message.RunEvent;
import ia.executor.v1.Message.RunState;
import ia.executor.v1.Message.RunStateChanged;
import ia.executor.v1.RequestResponse.GetRunRequest;
import ia.executor.v1.RequestResponse.GetRunResponse;
import ia.executor.v1.RequestResponse.ListHumanTasksRequest;
import ia.executor.v1.RequestResponse.ListHumanTasksResponse;
import ia.executor.v1.RequestResponse.ListRunsRequest;
import ia.executor.v1.RequestResponse.ListRunsResponse;
import ia.executor.v1.RequestResponse.StartRunRequest;
import ia.executor.v1.RequestResponse.StartRunResponse;
import ia.executor.v1.RequestResponse.SubmitHumanInputRequest;
import ia.executor.v1.RequestResponse.SubmitHumanInputResponse;
import ia.executor.v1.RequestResponse.WatchRunRequest;
import ia.executor.v1.RequestResponse.WatchRunResponse;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class IAClientTest {
  /** A scripted executor: one run, its events, its state and its tasks. */
  static final class FakeExecutor extends ExecutorServiceGrpc.ExecutorServiceImplBase {
    final List<RunEvent> events = new ArrayList<>();
    final List<Long> watches = new ArrayList<>();
    RunState state = RunState.RUN_STATE_RUNNING;
    List<HumanTask> tasks = List.of();
    List<String> runIds = List.of();
    int breakAfter;
    // When above 0, a batching watch gets this many events a message.
    int batchSize;
    final List<Boolean> batched = new ArrayList<>();

    @Override
    public void getRun(GetRunRequest request, StreamObserver<GetRunResponse> response) {
      if (!request.getRunId().equals("run-1")) {
        response.onError(
            StatusProto.toStatusRuntimeException(
                com.google.rpc.Status.newBuilder()
                    .setCode(Code.NOT_FOUND_VALUE)
                    .setMessage("run does not exist")
                    .addDetails(
                        Any.pack(
                            ErrorInfo.newBuilder()
                                .setReason("RUN_NOT_FOUND")
                                .putMetadata("run_id", request.getRunId())
                                .build()))
                    .build()));
        return;
      }
      response.onNext(GetRunResponse.newBuilder().setRun(Run.newBuilder().setRunId("run-1").setState(state)).build());
      response.onCompleted();
    }

    @Override
    public void startRun(StartRunRequest request, StreamObserver<StartRunResponse> response) {
      Run run = Run.newBuilder().setRunId("run-1").setPipelineName(request.getPipelineName()).build();
      response.onNext(StartRunResponse.newBuilder().setRun(run).build());
      response.onCompleted();
    }

    @Override
    public void submitHumanInput(SubmitHumanInputRequest request, StreamObserver<SubmitHumanInputResponse> response) {
      BadRequest violations =
          BadRequest.newBuilder()
              .addFieldViolations(
                  BadRequest.FieldViolation.newBuilder().setField("data.approved").setDescription("not a boolean"))
              .build();
      response.onError(
          StatusProto.toStatusRuntimeException(
              com.google.rpc.Status.newBuilder()
                  .setCode(Code.INVALID_ARGUMENT_VALUE)
                  .setMessage("the answer does not match")
                  .addDetails(Any.pack(ErrorInfo.newBuilder().setReason("INVALID_INPUT").build()))
                  .addDetails(Any.pack(violations))
                  .build()));
    }

    @Override
    public void listHumanTasks(ListHumanTasksRequest request, StreamObserver<ListHumanTasksResponse> response) {
      response.onNext(ListHumanTasksResponse.newBuilder().addAllTasks(tasks).build());
      response.onCompleted();
    }

    @Override
    public void listRuns(ListRunsRequest request, StreamObserver<ListRunsResponse> response) {
      int start = request.getPageToken().isEmpty() ? 0 : Integer.parseInt(request.getPageToken());
      int end = Math.min(start + request.getPageSize(), runIds.size());
      ListRunsResponse.Builder page = ListRunsResponse.newBuilder();
      runIds.subList(start, end).forEach(id -> page.addRuns(Run.newBuilder().setRunId(id)));
      if (end < runIds.size()) {
        page.setNextPageToken(Integer.toString(end));
      }
      response.onNext(page.build());
      response.onCompleted();
    }

    @Override
    public void watchRun(WatchRunRequest request, StreamObserver<WatchRunResponse> response) {
      boolean first;
      synchronized (watches) {
        watches.add(request.getFromSequence());
        batched.add(request.getBatch());
        first = watches.size() == 1;
      }
      if (batchSize > 0 && request.getBatch()) {
        for (int start = 0; start < events.size(); start += batchSize) {
          List<RunEvent> group = events.subList(start, Math.min(start + batchSize, events.size()));
          response.onNext(WatchRunResponse.newBuilder().addAllEvents(group).build());
        }
        response.onCompleted();
        return;
      }
      int sent = 0;
      for (RunEvent event : events) {
        if (event.getSequence() <= request.getFromSequence()) {
          continue;
        }
        if (first && breakAfter > 0 && sent == breakAfter) {
          response.onError(Status.UNAVAILABLE.withDescription("executor restarting").asRuntimeException());
          return;
        }
        response.onNext(WatchRunResponse.newBuilder().setEvent(event).build());
        sent++;
      }
      response.onCompleted();
    }
  }

  private final FakeExecutor executor = new FakeExecutor();
  private Server server;
  private IAClient client;

  private IAClient start() throws IOException {
    String name = InProcessServerBuilder.generateName();
    server = InProcessServerBuilder.forName(name).directExecutor().addService(executor).build().start();
    client = IAClient.builder().channel(InProcessChannelBuilder.forName(name).directExecutor().build()).build();
    return client;
  }

  @AfterEach
  void stop() throws InterruptedException {
    if (client != null) {
      client.close();
    }
    if (server != null) {
      server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  private static RunEvent stateEvent(long sequence, RunState state) {
    return RunEvent.newBuilder()
        .setSequence(sequence)
        .setRunStateChanged(RunStateChanged.newBuilder().setState(state))
        .build();
  }

  @Test
  void theTokenIsSentAsABearerToken() throws IOException {
    List<String> seen = new ArrayList<>();
    Metadata.Key<String> authorization = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    ServerInterceptor recorder =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            seen.add(headers.get(authorization));
            return next.startCall(call, headers);
          }
        };
    String name = InProcessServerBuilder.generateName();
    server =
        InProcessServerBuilder.forName(name)
            .directExecutor()
            .addService(ServerInterceptors.intercept(executor, recorder))
            .build()
            .start();
    client =
        IAClient.builder()
            .channel(InProcessChannelBuilder.forName(name).directExecutor().build())
            .token("iak_given")
            .build();

    client.getRun("run-1");

    assertEquals(List.of("Bearer iak_given"), seen);
  }

  @Test
  void notFoundKeepsItsCodeReasonAndMetadata() throws IOException {
    IAException error = assertThrows(IAException.class, () -> start().getRun("nope"));

    assertEquals(Status.Code.NOT_FOUND, error.code());
    assertEquals("RUN_NOT_FOUND", error.reason());
    assertEquals(Map.of("run_id", "nope"), error.metadata());
    assertFalse(error.unreachable());
    assertEquals("NOT_FOUND: run does not exist [RUN_NOT_FOUND]", error.getMessage());
  }

  @Test
  void invalidArgumentKeepsItsFieldViolations() throws IOException {
    IAException error =
        assertThrows(IAException.class, () -> start().submitHumanInput("task-1", Map.of("approved", "yes"), ""));

    assertEquals(List.of(new FieldViolation("data.approved", "not a boolean")), error.fieldViolations());
    assertTrue(error.getMessage().endsWith("\n  data.approved: not a boolean"), error.getMessage());
  }

  @Test
  void inputsThatAreNotJsonAreRefusedBeforeSending() throws IOException {
    IAException error = assertThrows(IAException.class, () -> start().startRun("p", Map.of("when", new Object())));

    assertEquals(Status.Code.INVALID_ARGUMENT, error.code());
    assertEquals("inputs", error.fieldViolations().get(0).field());
  }

  @Test
  void watchRunReopensABrokenStreamFromTheLastSequenceSeen() throws IOException {
    for (long sequence = 1; sequence <= 4; sequence++) {
      executor.events.add(stateEvent(sequence, RunState.RUN_STATE_RUNNING));
    }
    executor.breakAfter = 2;

    List<Long> sequences = new ArrayList<>();
    try (RunEvents events = start().watchRun("run-1", 0)) {
      events.forEachRemaining(event -> sequences.add(event.getSequence()));
    }

    assertEquals(List.of(1L, 2L, 3L, 4L), sequences);
    assertEquals(List.of(0L, 2L), executor.watches);
  }

  @Test
  void watchRunAsksForBatchesAndYieldsTheirEventsOneByOne() throws IOException {
    for (long sequence = 1; sequence <= 5; sequence++) {
      executor.events.add(stateEvent(sequence, RunState.RUN_STATE_RUNNING));
    }
    executor.batchSize = 2;

    List<Long> sequences = new ArrayList<>();
    try (RunEvents events = start().watchRun("run-1", 0)) {
      events.forEachRemaining(event -> sequences.add(event.getSequence()));
      assertEquals(5L, events.lastSequence());
    }

    assertEquals(List.of(1L, 2L, 3L, 4L, 5L), sequences);
    assertEquals(List.of(true), executor.batched);
  }

  @Test
  void waitRunReturnsOnceTheRunWaitsForAPerson() throws IOException {
    executor.events.add(stateEvent(1, RunState.RUN_STATE_RUNNING));
    executor.events.add(stateEvent(2, RunState.RUN_STATE_WAITING_FOR_INPUT));
    executor.state = RunState.RUN_STATE_WAITING_FOR_INPUT;
    executor.tasks = List.of(HumanTask.newBuilder().setTaskId("task-1").build());
    List<Long> seen = new ArrayList<>();

    Run run = start().waitRun("run-1", event -> seen.add(event.getSequence()));

    assertEquals(RunState.RUN_STATE_WAITING_FOR_INPUT, run.getState());
    assertEquals(List.of(1L, 2L), seen);
  }

  @Test
  void listRunsFetchesEveryPage() throws IOException {
    executor.runIds = List.of("a", "b", "c", "d", "e");

    List<String> listed = start().listRuns("", List.of(), 2).map(Run::getRunId).collect(Collectors.toList());

    assertEquals(executor.runIds, listed);
  }

  @Test
  void theAsyncClientCompletesAndFailsItsFutures() throws IOException {
    executor.events.add(stateEvent(1, RunState.RUN_STATE_RUNNING));
    executor.events.add(stateEvent(2, RunState.RUN_STATE_SUCCEEDED));
    executor.state = RunState.RUN_STATE_SUCCEEDED;
    IAAsyncClient async = start().async();

    Run started = async.startRun("hello", Map.of("who", "Java")).join();
    Run finished = async.waitRun(started.getRunId()).join();
    CompletionException failure = assertThrows(CompletionException.class, () -> async.getRun("nope").join());

    assertEquals("hello", started.getPipelineName());
    assertEquals(RunState.RUN_STATE_SUCCEEDED, finished.getState());
    IAException error = assertInstanceOf(IAException.class, failure.getCause());
    assertEquals("RUN_NOT_FOUND", error.reason());
  }

  @Test
  void anEndpointWhereNothingListensIsUnreachableAndSaysSo() throws IOException {
    int port;
    try (ServerSocket socket = new ServerSocket(0)) {
      port = socket.getLocalPort();
    }
    try (IAClient nowhere = IAClient.builder().endpoint("127.0.0.1:" + port).timeout(Duration.ofSeconds(10)).build()) {
      IAException error = assertThrows(IAException.class, () -> nowhere.getPipeline("p"));

      assertTrue(error.unreachable());
      assertEquals(Status.Code.UNAVAILABLE, error.code());
      assertTrue(
          error.getMessage().startsWith("cannot reach the IA Modules endpoint at 127.0.0.1:" + port),
          error.getMessage());
    }
  }

  @Test
  void valuesSurviveTheRoundTripThroughStruct() {
    Map<String, Object> values = Map.of("count", 3L, "ratio", 0.5, "tags", List.of("a", "b"), "nested", Map.of("ok", true));

    assertEquals(values, Values.fromStruct(Values.toStruct(values)));
  }
}
