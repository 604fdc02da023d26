package io.iamodules.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import ia.executor.v1.ExecutorServiceGrpc;
import ia.executor.v1.Message.PausedStep;
import ia.executor.v1.Message.Run;
import ia.executor.v1.Message.RunEvent;
import ia.executor.v1.Message.RunState;
import ia.executor.v1.Message.RunStateChanged;
import ia.executor.v1.RequestResponse.GetRunRequest;
import ia.executor.v1.RequestResponse.GetRunResponse;
import ia.executor.v1.RequestResponse.InspectRunRequest;
import ia.executor.v1.RequestResponse.InspectRunResponse;
import ia.executor.v1.RequestResponse.ResumeRunRequest;
import ia.executor.v1.RequestResponse.ResumeRunResponse;
import ia.executor.v1.RequestResponse.StartRunRequest;
import ia.executor.v1.RequestResponse.StartRunResponse;
import ia.executor.v1.RequestResponse.StepRunRequest;
import ia.executor.v1.RequestResponse.StepRunResponse;
import ia.executor.v1.RequestResponse.WatchRunRequest;
import ia.executor.v1.RequestResponse.WatchRunResponse;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DebuggerTest {
  /** An executor that records the debugger's requests and replays scripted events. */
  static final class DebuggingExecutor extends ExecutorServiceGrpc.ExecutorServiceImplBase {
    final List<RunEvent> events = new ArrayList<>();
    RunState state = RunState.RUN_STATE_PAUSED;
    boolean paused = true;
    StartRunRequest started;
    ResumeRunRequest resumed;
    StepRunRequest stepped;

    @Override
    public void startRun(StartRunRequest request, StreamObserver<StartRunResponse> response) {
      started = request;
      response.onNext(StartRunResponse.newBuilder().setRun(Run.newBuilder().setRunId("run-1")).build());
      response.onCompleted();
    }

    @Override
    public void resumeRun(ResumeRunRequest request, StreamObserver<ResumeRunResponse> response) {
      if (!paused) {
        response.onError(Status.FAILED_PRECONDITION.withDescription("the run is not paused").asRuntimeException());
        return;
      }
      resumed = request;
      response.onNext(ResumeRunResponse.newBuilder().setRun(running(request.getRunId())).build());
      response.onCompleted();
    }

    @Override
    public void stepRun(StepRunRequest request, StreamObserver<StepRunResponse> response) {
      stepped = request;
      response.onNext(StepRunResponse.newBuilder().setRun(running(request.getRunId())).build());
      response.onCompleted();
    }

    @Override
    public void inspectRun(InspectRunRequest request, StreamObserver<InspectRunResponse> response) {
      PausedStep greet =
          PausedStep.newBuilder()
              .setStepId("greet")
              .setInput(Values.toStruct(Map.of("message", "hi")))
              .setReason("breakpoint")
              .build();
      response.onNext(InspectRunResponse.newBuilder().addPaused(greet).build());
      response.onCompleted();
    }

    @Override
    public void getRun(GetRunRequest request, StreamObserver<GetRunResponse> response) {
      response.onNext(GetRunResponse.newBuilder().setRun(Run.newBuilder().setRunId("run-1").setState(state)).build());
      response.onCompleted();
    }

    @Override
    public void watchRun(WatchRunRequest request, StreamObserver<WatchRunResponse> response) {
      events.forEach(event -> response.onNext(WatchRunResponse.newBuilder().setEvent(event).build()));
      response.onCompleted();
    }

    private static Run running(String runId) {
      return Run.newBuilder().setRunId(runId).setState(RunState.RUN_STATE_RUNNING).build();
    }
  }

  private final DebuggingExecutor executor = new DebuggingExecutor();
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
  void startRunSendsBreakpointsAndMocks() throws IOException {
    start()
        .startRun(
            "hello",
            Map.of(),
            List.of(IAClient.breakpoint("greet"), IAClient.breakpoint("cheer", "input.times > 2")),
            Map.of("sign", Map.of("signature", "mocked")));

    assertEquals(List.of(IAClient.breakpoint("greet"), IAClient.breakpoint("cheer", "input.times > 2")), executor.started.getBreakpointsList());
    assertEquals(Map.of("sign", Map.of("signature", "mocked")), Values.fromStruct(executor.started.getMocks()));
  }

  @Test
  void stepAndResumeSendThePausedStepAndItsEditedInputs() throws IOException {
    IAClient client = start();

    client.stepRun("run-1");
    Run run = client.resumeRun("run-1", "cheer", Map.of("times", 5));

    assertEquals(RunState.RUN_STATE_RUNNING, run.getState());
    assertEquals("", executor.stepped.getStepId());
    assertFalse(executor.stepped.hasInputs());
    assertEquals("cheer", executor.resumed.getStepId());
    assertEquals(5.0, ((Number) Values.fromStruct(executor.resumed.getInputs()).get("times")).doubleValue());
  }

  @Test
  void resumingARunThatIsNotPausedThrowsFailedPrecondition() throws IOException {
    executor.paused = false;
    IAClient client = start();

    IAException error = assertThrows(IAException.class, () -> client.resumeRun("run-1"));

    assertEquals(Status.Code.FAILED_PRECONDITION, error.code());
  }

  @Test
  void inspectRunReturnsThePausedStepsWithTheirInputs() throws IOException {
    InspectRunResponse inspection = start().inspectRun("run-1");

    assertEquals("greet", inspection.getPaused(0).getStepId());
    assertEquals(Map.of("message", "hi"), Values.fromStruct(inspection.getPaused(0).getInput()));
  }

  @Test
  void waitRunReturnsOnceTheRunIsPaused() throws IOException {
    executor.events.add(stateEvent(1, RunState.RUN_STATE_RUNNING));
    executor.events.add(stateEvent(2, RunState.RUN_STATE_PAUSED));
    IAClient client = start();

    assertEquals(RunState.RUN_STATE_PAUSED, client.waitRun("run-1").getState());
    assertEquals(RunState.RUN_STATE_PAUSED, client.async().waitRun("run-1").join().getState());
  }

  @Test
  void waitRunReadsPastAPauseThatIsHistory() throws IOException {
    executor.events.add(stateEvent(1, RunState.RUN_STATE_PAUSED));
    executor.events.add(stateEvent(2, RunState.RUN_STATE_RUNNING));
    executor.events.add(stateEvent(3, RunState.RUN_STATE_SUCCEEDED));
    executor.state = RunState.RUN_STATE_SUCCEEDED;
    List<Long> seen = new ArrayList<>();

    Run run = start().waitRun("run-1", event -> seen.add(event.getSequence()));

    assertEquals(RunState.RUN_STATE_SUCCEEDED, run.getState());
    assertEquals(List.of(1L, 2L, 3L), seen);
  }

  @Test
  void theAsyncClientResumesStepsAndInspects() throws IOException {
    IAAsyncClient async = start().async();

    Run stepped = async.stepRun("run-1", "greet", null).join();
    Run resumed = async.resumeRun("run-1", "", Map.of("who", "Java")).join();
    InspectRunResponse inspection = async.inspectRun("run-1").join();

    assertEquals(RunState.RUN_STATE_RUNNING, stepped.getState());
    assertEquals(RunState.RUN_STATE_RUNNING, resumed.getState());
    assertEquals("greet", executor.stepped.getStepId());
    assertEquals(Map.of("who", "Java"), Values.fromStruct(executor.resumed.getInputs()));
    assertEquals(1, inspection.getPausedCount());
  }
}
