package io.iamodules.sdk;

import ia.executor.v1.ExecutorServiceGrpc;
import ia.executor.v1.Message.HumanTask;
import ia.executor.v1.Message.Run;
import ia.executor.v1.Message.RunEvent;
import ia.executor.v1.Message.RunState;
import ia.executor.v1.RequestResponse.CancelRunRequest;
import ia.executor.v1.RequestResponse.CancelRunResponse;
import ia.executor.v1.RequestResponse.GetRunRequest;
import ia.executor.v1.RequestResponse.GetRunResponse;
import ia.executor.v1.RequestResponse.InspectRunRequest;
import ia.executor.v1.RequestResponse.InspectRunResponse;
import ia.executor.v1.RequestResponse.ListHumanTasksRequest;
import ia.executor.v1.RequestResponse.ListHumanTasksResponse;
import ia.executor.v1.RequestResponse.ListRunsRequest;
import ia.executor.v1.RequestResponse.ListRunsResponse;
import ia.executor.v1.RequestResponse.ResumeRunRequest;
import ia.executor.v1.RequestResponse.ResumeRunResponse;
import ia.executor.v1.RequestResponse.StartRunRequest;
import ia.executor.v1.RequestResponse.StartRunResponse;
import ia.executor.v1.RequestResponse.StepRunRequest;
import ia.executor.v1.RequestResponse.StepRunResponse;
import ia.executor.v1.RequestResponse.SubmitHumanInputRequest;
import ia.executor.v1.RequestResponse.SubmitHumanInputResponse;
import ia.executor.v1.RequestResponse.WatchRunRequest;
import ia.executor.v1.RequestResponse.WatchRunResponse;
import ia.pipeline.v1.PipelineOuterClass.Pipeline;
import ia.registry.v1.Message.PipelineVersion;
import ia.registry.v1.RegistryServiceGrpc;
import ia.registry.v1.RequestResponse.CreatePipelineRequest;
import ia.registry.v1.RequestResponse.CreatePipelineResponse;
import ia.registry.v1.RequestResponse.GetPipelineRequest;
import ia.registry.v1.RequestResponse.GetPipelineResponse;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.StreamObserver;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The asynchronous client: every call returns a {@link CompletableFuture} that
 * fails with an {@link IAException}. Get one from {@link IAClient#async()}.
 * Cancelling a returned future cancels the call.
 */
public final class IAAsyncClient {
  private final Endpoint endpoint;

  IAAsyncClient(Endpoint endpoint) {
    this.endpoint = endpoint;
  }

  private RegistryServiceGrpc.RegistryServiceStub registry() {
    return RegistryServiceGrpc.newStub(endpoint.calls)
        .withDeadlineAfter(endpoint.timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  private ExecutorServiceGrpc.ExecutorServiceStub executor() {
    return ExecutorServiceGrpc.newStub(endpoint.calls)
        .withDeadlineAfter(endpoint.timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Stores a new pipeline as revision 1. */
  public CompletableFuture<CreatePipelineResponse> createPipeline(Pipeline pipeline) {
    CreatePipelineRequest request = CreatePipelineRequest.newBuilder().setPipeline(pipeline).build();
    return unary((r, o) -> registry().createPipeline(r, o), request, Function.identity());
  }

  /** A revision of a pipeline; 0 means the latest. */
  public CompletableFuture<PipelineVersion> getPipeline(String name, long revision) {
    GetPipelineRequest request = GetPipelineRequest.newBuilder().setName(name).setRevision(revision).build();
    return unary((r, o) -> registry().getPipeline(r, o), request, GetPipelineResponse::getPipeline);
  }

  /** Starts a run of a registered pipeline (latest revision) with these inputs. */
  public CompletableFuture<Run> startRun(String pipeline, Map<String, ?> inputs) {
    try {
      return startRun(
          StartRunRequest.newBuilder().setPipelineName(pipeline).setInputs(Values.toStruct(inputs)).build());
    } catch (IllegalArgumentException error) {
      return CompletableFuture.failedFuture(IAException.invalidArgument("inputs", error.getMessage(), endpoint.address));
    }
  }

  /** Starts a run as the request says. */
  public CompletableFuture<Run> startRun(StartRunRequest request) {
    return unary((r, o) -> executor().startRun(r, o), request, StartRunResponse::getRun);
  }

  /** A run with the state of each step. */
  public CompletableFuture<Run> getRun(String runId) {
    GetRunRequest request = GetRunRequest.newBuilder().setRunId(runId).build();
    return unary((r, o) -> executor().getRun(r, o), request, GetRunResponse::getRun);
  }

  /** Cancels a run and whatever it has in flight. */
  public CompletableFuture<Run> cancelRun(String runId, String reason) {
    CancelRunRequest request = CancelRunRequest.newBuilder().setRunId(runId).setReason(reason).build();
    return unary((r, o) -> executor().cancelRun(r, o), request, CancelRunResponse::getRun);
  }

  /** Lets a paused run go on; see {@link IAClient#resumeRun(String, String, Map)}. */
  public CompletableFuture<Run> resumeRun(String runId, String stepId, Map<String, ?> inputs) {
    try {
      ResumeRunRequest.Builder request = ResumeRunRequest.newBuilder().setRunId(runId).setStepId(stepId);
      if (inputs != null) {
        request.setInputs(Values.toStruct(inputs));
      }
      return unary((r, o) -> executor().resumeRun(r, o), request.build(), ResumeRunResponse::getRun);
    } catch (IllegalArgumentException error) {
      return CompletableFuture.failedFuture(IAException.invalidArgument("inputs", error.getMessage(), endpoint.address));
    }
  }

  /** Runs one paused step; see {@link IAClient#stepRun(String, String, Map)}. */
  public CompletableFuture<Run> stepRun(String runId, String stepId, Map<String, ?> inputs) {
    try {
      StepRunRequest.Builder request = StepRunRequest.newBuilder().setRunId(runId).setStepId(stepId);
      if (inputs != null) {
        request.setInputs(Values.toStruct(inputs));
      }
      return unary((r, o) -> executor().stepRun(r, o), request.build(), StepRunResponse::getRun);
    } catch (IllegalArgumentException error) {
      return CompletableFuture.failedFuture(IAException.invalidArgument("inputs", error.getMessage(), endpoint.address));
    }
  }

  /** The paused steps with their inputs, the outputs so far and the conditions evaluated. */
  public CompletableFuture<InspectRunResponse> inspectRun(String runId) {
    InspectRunRequest request = InspectRunRequest.newBuilder().setRunId(runId).build();
    return unary((r, o) -> executor().inspectRun(r, o), request, Function.identity());
  }

  /** One page of runs, newest first; pass its next_page_token to get the next. */
  public CompletableFuture<ListRunsResponse> listRuns(ListRunsRequest request) {
    return unary((r, o) -> executor().listRuns(r, o), request, Function.identity());
  }

  /** One page of human-input tasks (OPEN ones unless the request says otherwise). */
  public CompletableFuture<ListHumanTasksResponse> listHumanTasks(ListHumanTasksRequest request) {
    return unary((r, o) -> executor().listHumanTasks(r, o), request, Function.identity());
  }

  /** Answers a task, which resumes its run. */
  public CompletableFuture<HumanTask> submitHumanInput(String taskId, Map<String, ?> data, String submitter) {
    try {
      SubmitHumanInputRequest request =
          SubmitHumanInputRequest.newBuilder()
              .setTaskId(taskId)
              .setData(Values.toStruct(data))
              .setSubmitter(submitter)
              .build();
      return unary((r, o) -> executor().submitHumanInput(r, o), request, SubmitHumanInputResponse::getTask);
    } catch (IllegalArgumentException error) {
      return CompletableFuture.failedFuture(IAException.invalidArgument("data", error.getMessage(), endpoint.address));
    }
  }

  /**
   * Streams the run's events after {@code fromSequence} to {@code onEvent}, then
   * live ones until it ends. The future completes when the stream ends; cancel it
   * to hang up.
   */
  public CompletableFuture<Void> watchRun(String runId, long fromSequence, Consumer<RunEvent> onEvent) {
    CompletableFuture<Void> done = new CompletableFuture<>();
    WatchRunRequest request = WatchRunRequest.newBuilder().setRunId(runId).setFromSequence(fromSequence).setBatch(true).build();
    ExecutorServiceGrpc.newStub(endpoint.calls)
        .watchRun(
            request,
            new ClientResponseObserver<WatchRunRequest, WatchRunResponse>() {
              @Override
              public void beforeStart(ClientCallStreamObserver<WatchRunRequest> call) {
                done.whenComplete((ignored, failure) -> {
                  if (done.isCancelled()) {
                    call.cancel("the caller hung up", null);
                  }
                });
              }

              @Override
              public void onNext(WatchRunResponse response) {
                for (RunEvent event : RunEvents.events(response)) {
                  if (done.isDone()) {
                    break;
                  }
                  onEvent.accept(event);
                }
              }

              @Override
              public void onError(Throwable error) {
                done.completeExceptionally(endpoint.error(error));
              }

              @Override
              public void onCompleted() {
                done.complete(null);
              }
            });
    return done;
  }

  /**
   * Completes with the run once it ends, waits for a person's input or is
   * paused; see {@link IAClient#waitRun}.
   */
  public CompletableFuture<Run> waitRun(String runId) {
    CompletableFuture<Run> result = new CompletableFuture<>();
    CompletableFuture<Void> watch =
        watchRun(runId, 0, event -> {
          if (RunStates.isFinal(event)) {
            getRun(runId).whenComplete(settle(result));
          } else if (RunStates.isWaiting(event)) {
            stillWaiting(runId).whenComplete((run, failure) -> {
              if (failure != null || run != null) {
                settle(result).accept(run, failure);
              }
            });
          } else if (RunStates.isPaused(event)) {
            // A replayed pause may be history: the run is paused only if it still says so.
            getRun(runId).whenComplete((run, failure) -> {
              if (failure != null || run.getState() == RunState.RUN_STATE_PAUSED) {
                settle(result).accept(run, failure);
              }
            });
          }
        });
    // A stream that ends without a final event (a finished run replays and closes).
    watch.whenComplete((ignored, failure) -> {
      if (failure != null && !watch.isCancelled()) {
        result.completeExceptionally(failure);
      } else if (failure == null) {
        getRun(runId).whenComplete(settle(result));
      }
    });
    result.whenComplete((run, failure) -> watch.cancel(false));
    return result;
  }

  // The run if it still waits for input with a task open, else null: a replayed
  // WAITING_FOR_INPUT event may be history.
  private CompletableFuture<Run> stillWaiting(String runId) {
    return getRun(runId).thenCompose(run -> {
      if (run.getState() != RunState.RUN_STATE_WAITING_FOR_INPUT) {
        return CompletableFuture.completedFuture(null);
      }
      ListHumanTasksRequest open = ListHumanTasksRequest.newBuilder().setRunId(runId).setPageSize(1).build();
      return listHumanTasks(open).thenApply(page -> page.getTasksCount() > 0 ? run : null);
    });
  }

  private static <T> BiConsumer<T, Throwable> settle(CompletableFuture<T> result) {
    return (value, failure) -> {
      if (failure != null) {
        result.completeExceptionally(failure);
      } else {
        result.complete(value);
      }
    };
  }

  private interface AsyncCall<Req, Resp> {
    void send(Req request, StreamObserver<Resp> observer);
  }

  private <Req, Resp, T> CompletableFuture<T> unary(
      AsyncCall<Req, Resp> call, Req request, Function<Resp, T> extract) {
    CompletableFuture<T> future = new CompletableFuture<>();
    call.send(
        request,
        new ClientResponseObserver<Req, Resp>() {
          @Override
          public void beforeStart(ClientCallStreamObserver<Req> stream) {
            future.whenComplete((ignored, failure) -> {
              if (future.isCancelled()) {
                stream.cancel("the caller cancelled", null);
              }
            });
          }

          @Override
          public void onNext(Resp response) {
            future.complete(extract.apply(response));
          }

          @Override
          public void onError(Throwable error) {
            future.completeExceptionally(endpoint.error(error));
          }

          @Override
          public void onCompleted() {}
        });
    return future;
  }
}
