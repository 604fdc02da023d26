/** The human-input inbox: each open task with a form from its ui_schema; submitting resumes the run. */
import { useEffect, useMemo, useState } from "react";
import type { HumanTask } from "@ia-modules/sdk";
import { client, formatTime, take } from "../api";
import { checkForm, fieldsFromSchema, initialValues, withoutError, type FormValues, type JsonObject } from "../forms";
import { SchemaForm } from "../SchemaForm";
import { ErrorBox, Json, Section } from "../ui";

export function TasksPage({ runId }: { runId?: string }) {
  const [tasks, setTasks] = useState<HumanTask[] | null>(null);
  const [error, setError] = useState<unknown>();
  const [done, setDone] = useState<HumanTask[]>([]);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const abort = new AbortController();
    take(client.listHumanTasks({ runId, signal: abort.signal }))
      .then((found) => {
        setTasks(found);
        setError(undefined);
      })
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, [runId, reload]);

  return (
    <Section title={runId ? `Tasks of run ${runId}` : "Human tasks"} actions={<button onClick={() => setReload((n) => n + 1)}>Refresh</button>}>
      <ErrorBox error={error} />
      {done.map((task) => (
        <p key={task.taskId} className="ok" role="status" data-testid="submitted">
          Submitted “{task.prompt}”. <a href={`#/runs/${task.runId}`}>Follow the run</a>
        </p>
      ))}
      {tasks && tasks.length === 0 && <p className="muted">No open task.</p>}
      {tasks?.map((task) => (
        <TaskCard
          key={task.taskId}
          task={task}
          onSubmitted={(answered) => {
            setDone((d) => [...d, answered]);
            setTasks((t) => t?.filter((x) => x.taskId !== task.taskId) ?? null);
          }}
        />
      ))}
    </Section>
  );
}

function TaskCard({ task, onSubmitted }: { task: HumanTask; onSubmitted: (task: HumanTask) => void }) {
  const fields = useMemo(() => fieldsFromSchema(task.uiSchema), [task]);
  const [values, setValues] = useState<FormValues>(() => initialValues(fields));
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<unknown>();
  const [sending, setSending] = useState(false);

  const submit = async () => {
    const checked = checkForm(fields, values);
    setErrors(checked.errors);
    if (Object.keys(checked.errors).length) {
      return;
    }
    setSending(true);
    try {
      onSubmitted(await client.submitHumanInput(task.taskId, checked.data));
    } catch (e) {
      setError(e);
    } finally {
      setSending(false);
    }
  };

  return (
    <article className="task" data-task={task.taskId} aria-labelledby={`task-${task.taskId}`}>
      <h3 id={`task-${task.taskId}`}>{task.prompt || `Input for ${task.stepId}`}</h3>
      <p className="muted small">
        <a href={`#/runs/${task.runId}`}>{task.pipelineName || "run"}</a> · step <code>{task.stepId}</code> · opened{" "}
        {formatTime(task.createTime)}
        {task.assignees.length > 0 && <> · for {task.assignees.join(", ")}</>}
        {task.deadline && <> · due {formatTime(task.deadline)}</>}
      </p>
      {task.data && Object.keys(task.data).length > 0 && (
        <details open>
          <summary>Data under review</summary>
          <Json value={task.data as JsonObject} />
        </details>
      )}
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <SchemaForm idPrefix={`t${task.taskId}`} fields={fields} values={values} errors={errors} onChange={(next, changed) => {
            setValues(next);
            setErrors((e) => withoutError(e, changed));
          }}
        />
        <ErrorBox error={error} title="The service refused the answer" />
        <button className="primary" type="submit" disabled={sending}>
          {sending ? "Submitting…" : "Submit"}
        </button>
      </form>
    </article>
  );
}
