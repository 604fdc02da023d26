package io.iamodules.sdk;

import ia.executor.v1.Message.RunEvent;
import ia.executor.v1.Message.RunState;
import java.util.EnumSet;
import java.util.Set;

/** What the clients need to know about run states. */
public final class RunStates {
  private RunStates() {}

  /** The states a run never leaves. */
  public static final Set<RunState> FINAL =
      EnumSet.of(
          RunState.RUN_STATE_SUCCEEDED,
          RunState.RUN_STATE_FAILED,
          RunState.RUN_STATE_CANCELLED,
          RunState.RUN_STATE_TIMED_OUT);

  /** True for an event that ends the run. */
  public static boolean isFinal(RunEvent event) {
    return event.hasRunStateChanged() && FINAL.contains(event.getRunStateChanged().getState());
  }

  /** True for an event that says the run now waits for a person. */
  public static boolean isWaiting(RunEvent event) {
    return event.hasRunStateChanged()
        && event.getRunStateChanged().getState() == RunState.RUN_STATE_WAITING_FOR_INPUT;
  }

  /** True for an event that says the run is now paused (at a breakpoint, or after a step). */
  public static boolean isPaused(RunEvent event) {
    return event.hasRunStateChanged() && event.getRunStateChanged().getState() == RunState.RUN_STATE_PAUSED;
  }
}
