package io.iamodules.sdk;

import com.google.protobuf.FieldMask;
import ia.executor.v1.ExecutorServiceGrpc;
import ia.executor.v1.Message.Breakpoint;
import ia.executor.v1.Message.HumanTask;
import ia.executor.v1.Message.Run;
import ia.executor.v1.Message.RunEvent;
import ia.executor.v1.Message.RunState;
import ia.executor.v1.RequestResponse.CancelRunRequest;
import ia.executor.v1.RequestResponse.GetRunRequest;
import ia.executor.v1.RequestResponse.InspectRunRequest;
import ia.executor.v1.RequestResponse.InspectRunResponse;
import ia.executor.v1.RequestResponse.ListHumanTasksRequest;
import ia.executor.v1.RequestResponse.ListRunsRequest;
import ia.executor.v1.RequestResponse.ResumeRunRequest;
import ia.executor.v1.RequestResponse.StartRunRequest;
import ia.executor.v1.RequestResponse.StepRunRequest;
import ia.executor.v1.RequestResponse.SubmitHumanInputRequest;
import ia.pipeline.v1.PipelineOuterClass.Pipeline;
import ia.registry.v1.Message.PipelineVersion;
import ia.registry.v1.RegistryServiceGrpc;
import ia.registry.v1.RequestResponse.CreatePipelineRequest;
import ia.registry.v1.RequestResponse.CreatePipelineResponse;
import ia.registry.v1.RequestResponse.DeletePipelineRequest;
import ia.registry.v1.RequestResponse.GetPipelineRequest;
import ia.registry.v1.RequestResponse.ListPipelinesRequest;
import ia.registry.v1.RequestResponse.UpdatePipelineRequest;
import ia.registry.v1.RequestResponse.UpdatePipelineResponse;
import ia.registry.v1.RequestResponse.ValidatePipelineRequest;
import ia.registry.v1.RequestResponse.ValidatePipelineResponse;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Spliterators;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.stream.Stream;
import java.util.stream.StreamSupport;

/**
 * The blocking client of IA Modules: the registry and the executor behind one
 * endpoint (Envoy; IA_ENDPOINT, default localhost:8080).
 *
 * <pre>{@code
 * try (IAClient client = IAClient.builder().build()) {
 *   Run run = client.startRun("hello", Map.of("who", "Java"));
 *   run = client.waitRun(run.getRunId());
 *   System.out.println(Values.fromStruct(run.getOutputs()));
 * }
 * }</pre>
 *
 * Methods return the messages of the contracts and throw {@link IAException} for
 * every failed call. {@link #async()} gives the same calls as futures.
 */
public final class IAClient implements AutoCloseable {
  /** Deadline of each unary call. Streams have none: a run may take hours. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);

  private final Endpoint endpoint;
  private final IAAsyncClient async;

  private IAClient(Endpoint endpoint) {
    this.endpoint = endpoint;
    this.async = new IAAsyncClient(endpoint);
  }

  /** Starts building a client. */
  public static Builder builder() {
    return new Builder();
  }

  /** Configures a client. */
  public static final class Builder {
    private String endpoint;
    private boolean tls;
    private TlsFiles tlsFiles;
    private Duration timeout = DEFAULT_TIMEOUT;
    private ManagedChannel channel;
    private String token;

    private Builder() {}

    /** API key or JWT sent as {@code authorization: Bearer}; null or empty means IA_TOKEN. */
    public Builder token(String token) {
      this.token = token;
      return this;
    }

    /**
     * Calls through this channel (custom credentials, interceptors, an in-process
     * server in tests) instead of opening one; the client closes it on {@link #close()}.
     */
    public Builder channel(ManagedChannel channel) {
      this.channel = channel;
      return this;
    }

    /** host:port; null or empty means IA_ENDPOINT, then localhost:8080. */
    public Builder endpoint(String endpoint) {
      this.endpoint = endpoint;
      return this;
    }

    /** Use TLS (with the system roots) instead of plaintext; IA_TLS_* turn TLS on too. */
    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    /** Use TLS, or mutual TLS, with these files instead of IA_TLS_*. */
    public Builder tls(TlsFiles files) {
      this.tlsFiles = files;
      return this;
    }

    /** The deadline of each unary call. */
    public Builder timeout(Duration timeout) {
      this.timeout = timeout;
      return this;
    }

    /**
     * Creates the client; it connects on the first call. Throws INVALID_ARGUMENT
     * when the TLS files are inconsistent or cannot be read.
     */
    public IAClient build() {
      if (channel != null) {
        return new IAClient(new Endpoint(channel.authority(), channel, timeout, token));
      }
      return new IAClient(new Endpoint(endpoint, tls, tlsFiles, timeout, token));
    }
  }

  /** The address the client calls. */
  public String endpoint() {
    return endpoint.address;
  }

  /** The same calls, returning futures; shares this client's connection. */
  public IAAsyncClient async() {
    return async;
  }

  /** The generated registry stub, with the client's deadline, for calls this layer does not wrap. */
  public RegistryServiceGrpc.RegistryServiceBlockingStub registry() {
    return RegistryServiceGrpc.newBlockingStub(endpoint.calls)
        .withDeadlineAfter(endpoint.timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The generated executor stub, with the client's deadline. */
  public ExecutorServiceGrpc.ExecutorServiceBlockingStub executor() {
    return ExecutorServiceGrpc.newBlockingStub(endpoint.calls)
        .withDeadlineAfter(endpoint.timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  public void close() {
    endpoint.close();
  }

  // Registry

  /** Stores a new pipeline as revision 1; the response has the version and any warnings. */
  public CreatePipelineResponse createPipeline(Pipeline pipeline) {
    return call(() -> registry().createPipeline(CreatePipelineRequest.newBuilder().setPipeline(pipeline).build()));
  }

  /** Same, idempotent: a retry with the same request id returns the same version. */
  public CreatePipelineResponse createPipeline(Pipeline pipeline, String requestId) {
    CreatePipelineRequest request =
        CreatePipelineRequest.newBuilder().setPipeline(pipeline).setRequestId(requestId).build();
    return call(() -> registry().createPipeline(request));
  }

  /** A revision of a pipeline; 0 means the latest. */
  public PipelineVersion getPipeline(String name, long revision) {
    GetPipelineRequest request = GetPipelineRequest.newBuilder().setName(name).setRevision(revision).build();
    return call(() -> registry().getPipeline(request).getPipeline());
  }

  /** The latest revision of a pipeline. */
  public PipelineVersion getPipeline(String name) {
    return getPipeline(name, 0);
  }

  /** The latest revision of every pipeline whose name starts with {@code prefix}, by name; pages are fetched lazily. */
  public Stream<PipelineVersion> listPipelines(String prefix, int pageSize) {
    ListPipelinesRequest.Builder request = ListPipelinesRequest.newBuilder().setNamePrefix(prefix).setPageSize(pageSize);
    return pages(token -> {
      var page = call(() -> registry().listPipelines(request.setPageToken(token).build()));
      return new Page<>(page.getPipelinesList(), page.getNextPageToken());
    });
  }

  /** Stores a new revision; an empty mask replaces the whole definition; a non-empty etag must match. */
  public UpdatePipelineResponse updatePipeline(Pipeline pipeline, List<String> updateMask, String etag) {
    UpdatePipelineRequest request =
        UpdatePipelineRequest.newBuilder()
            .setPipeline(pipeline)
            .setUpdateMask(FieldMask.newBuilder().addAllPaths(updateMask))
            .setEtag(etag)
            .build();
    return call(() -> registry().updatePipeline(request));
  }

  /** Deletes a pipeline and all its revisions; returns how many were deleted. */
  public long deletePipeline(String name, String etag) {
    DeletePipelineRequest request = DeletePipelineRequest.newBuilder().setName(name).setEtag(etag).build();
    return call(() -> registry().deletePipeline(request).getDeletedRevisions());
  }

  /** Validates a definition given as JSON text in any dialect, without storing it. */
  public ValidatePipelineResponse validatePipeline(String definitionJson, boolean strict) {
    ValidatePipelineRequest request =
        ValidatePipelineRequest.newBuilder().setDefinitionJson(definitionJson).setStrict(strict).build();
    return call(() -> registry().validatePipeline(request));
  }

  // Executor

  /** Starts a run of a registered pipeline (latest revision) with these inputs. */
  public Run startRun(String pipeline, Map<String, ?> inputs) {
    return startRun(StartRunRequest.newBuilder().setPipelineName(pipeline).setInputs(struct("inputs", inputs)).build());
  }

  /** Starts a run as the request says: a name or an inline definition, a revision, a request id. */
  public Run startRun(StartRunRequest request) {
    return call(() -> executor().startRun(request).getRun());
  }

  /** A breakpoint before {@code stepId}, each time it is about to run. */
  public static Breakpoint breakpoint(String stepId) {
    return Breakpoint.newBuilder().setStepId(stepId).build();
  }

  /** A breakpoint before {@code stepId} when {@code condition} (CEL over input, parameters, steps, run) is true. */
  public static Breakpoint breakpoint(String stepId, String condition) {
    return Breakpoint.newBuilder().setStepId(stepId).setCondition(condition).build();
  }

  /**
   * Starts a run to debug: it pauses before the breakpoints' steps (see {@link
   * #resumeRun}, {@link #stepRun}, {@link #inspectRun}), and each mocked step (step
   * id to output object) completes with its mock without running.
   */
  public Run startRun(String pipeline, Map<String, ?> inputs, List<Breakpoint> breakpoints, Map<String, ?> mocks) {
    StartRunRequest request =
        StartRunRequest.newBuilder()
            .setPipelineName(pipeline)
            .setInputs(struct("inputs", inputs))
            .addAllBreakpoints(breakpoints)
            .setMocks(struct("mocks", mocks))
            .build();
    return startRun(request);
  }

  /**
   * Lets a paused run go on: every step it holds runs, and it pauses again only at
   * a breakpoint. Throws FAILED_PRECONDITION when the run is not paused.
   */
  public Run resumeRun(String runId) {
    return resumeRun(runId, "", null);
  }

  /**
   * Same, setting top-level fields of a paused step's input first (edit and
   * continue); {@code stepId} "" means the first paused step, null inputs none.
   */
  public Run resumeRun(String runId, String stepId, Map<String, ?> inputs) {
    ResumeRunRequest.Builder request = ResumeRunRequest.newBuilder().setRunId(runId).setStepId(stepId);
    if (inputs != null) {
      request.setInputs(struct("inputs", inputs));
    }
    return call(() -> executor().resumeRun(request.build()).getRun());
  }

  /** Runs exactly one paused step, then pauses again before the next; fails like {@link #resumeRun}. */
  public Run stepRun(String runId) {
    return stepRun(runId, "", null);
  }

  /** Same, editing the step's input first, as {@link #resumeRun(String, String, Map)} does. */
  public Run stepRun(String runId, String stepId, Map<String, ?> inputs) {
    StepRunRequest.Builder request = StepRunRequest.newBuilder().setRunId(runId).setStepId(stepId);
    if (inputs != null) {
      request.setInputs(struct("inputs", inputs));
    }
    return call(() -> executor().stepRun(request.build()).getRun());
  }

  /** The paused steps with their resolved inputs, the outputs so far and every condition evaluated. */
  public InspectRunResponse inspectRun(String runId) {
    return call(() -> executor().inspectRun(InspectRunRequest.newBuilder().setRunId(runId).build()));
  }

  /** A run with the state of each step. */
  public Run getRun(String runId) {
    return call(() -> executor().getRun(GetRunRequest.newBuilder().setRunId(runId).build()).getRun());
  }

  /** Cancels a run and whatever it has in flight. */
  public Run cancelRun(String runId, String reason) {
    CancelRunRequest request = CancelRunRequest.newBuilder().setRunId(runId).setReason(reason).build();
    return call(() -> executor().cancelRun(request).getRun());
  }

  /** Runs of a pipeline ("" for all), newest first, without step details; pages are fetched lazily. */
  public Stream<Run> listRuns(String pipeline, List<RunState> states, int pageSize) {
    ListRunsRequest.Builder request =
        ListRunsRequest.newBuilder().setPipelineName(pipeline).addAllStates(states).setPageSize(pageSize);
    return pages(token -> {
      var page = call(() -> executor().listRuns(request.setPageToken(token).build()));
      return new Page<>(page.getRunsList(), page.getNextPageToken());
    });
  }

  /**
   * The run's events after {@code fromSequence}, then live ones until it ends. A
   * stream that breaks with UNAVAILABLE after delivering events is reopened from
   * the last sequence seen, so no event is lost or repeated.
   */
  public RunEvents watchRun(String runId, long fromSequence) {
    return new RunEvents(endpoint, runId, fromSequence);
  }

  /**
   * Watches a run until it ends, waits for a person's input or is paused (at a
   * breakpoint, or after {@link #stepRun}), and returns it then.
   */
  public Run waitRun(String runId) {
    return waitRun(runId, event -> {});
  }

  /** Same; {@code onEvent} sees every event on the way. */
  public Run waitRun(String runId, Consumer<RunEvent> onEvent) {
    try (RunEvents events = watchRun(runId, 0)) {
      for (RunEvent event : events) {
        onEvent.accept(event);
        if (RunStates.isFinal(event) || (RunStates.isWaiting(event) && waitsForInput(runId))) {
          break;
        }
        // A replayed pause may be history: the run is paused only if it still says so.
        if (RunStates.isPaused(event) && getRun(runId).getState() == RunState.RUN_STATE_PAUSED) {
          break;
        }
      }
    }
    return getRun(runId);
  }

  /** Open human-input tasks of a run ("" for all runs); pages are fetched lazily. */
  public Stream<HumanTask> listHumanTasks(String runId) {
    return listHumanTasks(ListHumanTasksRequest.newBuilder().setRunId(runId).build());
  }

  /** Human-input tasks as the request filters them (states, page size). */
  public Stream<HumanTask> listHumanTasks(ListHumanTasksRequest filter) {
    ListHumanTasksRequest.Builder request = filter.toBuilder();
    return pages(token -> {
      var page = call(() -> executor().listHumanTasks(request.setPageToken(token).build()));
      return new Page<>(page.getTasksList(), page.getNextPageToken());
    });
  }

  /**
   * Answers a task, which resumes its run. An answer that does not match the
   * task's ui_schema throws INVALID_ARGUMENT with one field violation per problem.
   */
  public HumanTask submitHumanInput(String taskId, Map<String, ?> data, String submitter) {
    SubmitHumanInputRequest request =
        SubmitHumanInputRequest.newBuilder()
            .setTaskId(taskId)
            .setData(struct("data", data))
            .setSubmitter(submitter)
            .build();
    return call(() -> executor().submitHumanInput(request).getTask());
  }

  // A replayed WAITING_FOR_INPUT event may be history: the run waits only if it
  // still says so and a task is still open.
  private boolean waitsForInput(String runId) {
    if (getRun(runId).getState() != RunState.RUN_STATE_WAITING_FOR_INPUT) {
      return false;
    }
    return listHumanTasks(ListHumanTasksRequest.newBuilder().setRunId(runId).setPageSize(1).build())
        .findAny()
        .isPresent();
  }

  private com.google.protobuf.Struct struct(String field, Map<String, ?> values) {
    try {
      return Values.toStruct(values);
    } catch (IllegalArgumentException error) {
      throw IAException.invalidArgument(field, error.getMessage(), endpoint.address);
    }
  }

  private <T> T call(Supplier<T> send) {
    try {
      return send.get();
    } catch (StatusRuntimeException error) {
      throw endpoint.error(error);
    }
  }

  private record Page<T>(List<T> items, String nextPageToken) {}

  private static <T> Stream<T> pages(Function<String, Page<T>> fetch) {
    Iterator<T> items =
        new Iterator<>() {
          private Iterator<T> current = List.<T>of().iterator();
          private String token = "";
          private boolean more = true;

          @Override
          public boolean hasNext() {
            while (!current.hasNext() && more) {
              Page<T> page = fetch.apply(token);
              current = page.items().iterator();
              token = page.nextPageToken();
              more = !token.isEmpty();
            }
            return current.hasNext();
          }

          @Override
          public T next() {
            if (!hasNext()) {
              throw new NoSuchElementException();
            }
            return current.next();
          }
        };
    return StreamSupport.stream(Spliterators.spliteratorUnknownSize(items, 0), false);
  }
}
