"""Only an assignee (a user, or anyone holding an assigned role) or an admin may answer
a human task, and the authenticated submitter is what the run records."""

import grpc
from ia.executor.v1 import message_pb2
from ia.executor.v1 import request_response_pb2 as executor_rr
from ia_modules.engine.values import to_struct
from security_testing import create_pipeline, open_task, refused, start_run, token_for


def submit(caller, task_id: str, submitter: str = ""):
    request = executor_rr.SubmitHumanInputRequest(task_id=task_id, data=to_struct({"ok": True}), submitter=submitter)
    return caller.executor.SubmitHumanInput(request)


async def run_events(caller, run_id: str) -> list[message_pb2.RunEvent]:
    return [r.event async for r in caller.executor.WatchRun(executor_rr.WatchRunRequest(run_id=run_id))]


async def test_only_an_assignee_may_answer_and_the_submitter_is_the_caller(deployment):
    await create_pipeline(deployment.as_role("acme", "admin"), "review", assignees=["alice", "role:admin"])
    alice = deployment.caller(token_for("alice", "acme", "operator"))
    bob = deployment.caller(token_for("bob", "acme", "operator"))
    alice_viewer = deployment.caller(token_for("alice", "acme", "viewer"))
    run_id = await start_run(alice, "review")
    task = await open_task(alice, run_id)

    refusal = await refused(submit(bob, task.task_id))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.PERMISSION_DENIED, "NOT_AN_ASSIGNEE")
    assert refusal.metadata["assignees"] == "alice,role:admin"
    refusal = await refused(submit(alice_viewer, task.task_id))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.PERMISSION_DENIED, "OPERATOR_ROLE_REQUIRED")

    # The submitter a person writes in the request is not taken at their word.
    answered = (await submit(alice, task.task_id, submitter="mallory")).task
    assert answered.submitter == "alice"
    logs = [e.step_log.message for e in await run_events(alice, run_id) if e.WhichOneof("kind") == "step_log"]
    assert logs == ["input submitted by alice"]


async def test_an_admin_may_answer_any_task_and_a_role_assignee_is_anyone_with_the_role(deployment):
    await create_pipeline(deployment.as_role("acme", "admin"), "by-name", assignees=["alice"])
    await create_pipeline(deployment.as_role("acme", "admin"), "by-role", assignees=["role:operator"])
    operator = deployment.as_role("acme", "operator")
    admin = deployment.as_role("acme", "admin")

    named = await open_task(operator, await start_run(operator, "by-name"))
    refusal = await refused(submit(operator, named.task_id))
    assert refusal.reason == "NOT_AN_ASSIGNEE"
    answered = (await submit(admin, named.task_id)).task
    admin_key = deployment.key_store.verify(deployment.keys[("acme", "admin")])
    assert answered.submitter == f"key:{admin_key.key_id}"

    by_role = await open_task(operator, await start_run(operator, "by-role"))
    answered = (await submit(deployment.caller(token_for("carol", "acme", "operator")), by_role.task_id)).task
    assert answered.submitter == "carol"


async def test_a_service_answers_for_the_submitter_it_names(deployment):
    """The service token stands for a service that authenticated the person itself."""
    await create_pipeline(deployment.as_role("acme", "admin"), "review", assignees=["alice"])
    operator = deployment.as_role("acme", "operator")
    task = await open_task(operator, await start_run(operator, "review"))
    answered = (await submit(deployment.as_service("acme"), task.task_id, submitter="alice")).task
    assert answered.submitter == "alice"
