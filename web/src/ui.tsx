/** Small shared pieces: hash routes, errors as people can read them, state badges. */
import { useEffect, useState, type ReactNode } from "react";
import { asIAError } from "./api";

/** The part of the URL after `#`, e.g. `/runs/abc`; the app's routes live there. */
export function useRoute(): string {
  const read = () => decodeURI(window.location.hash.replace(/^#/, "")) || "/pipelines";
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const update = () => setRoute(read());
    window.addEventListener("hashchange", update);
    return () => window.removeEventListener("hashchange", update);
  }, []);
  return route;
}

export function navigate(route: string): void {
  window.location.hash = route;
}

/** A failed call: the gRPC code, the service's message, its reason and each field violation. */
export function ErrorBox({ error, title }: { error: unknown; title?: string }) {
  if (error === undefined || error === null) {
    return null;
  }
  const e = asIAError(error);
  return (
    <div className="error" role="alert" data-testid="error">
      <strong>{title ?? (e.unreachable ? "Cannot reach the stack" : "The call failed")}</strong>
      <div>
        <code>{e.codeName}</code> {e.unreachable ? e.message : e.rawMessage}
        {e.reason && <span className="muted"> ({e.reason})</span>}
      </div>
      {e.fieldViolations.length > 0 && (
        <ul>
          {e.fieldViolations.map((v, i) => (
            <li key={i}>
              {v.field && <code>{v.field}</code>} {v.description}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export function Badge({ state }: { state: string }) {
  return (
    <span className={`badge state-${state.toLowerCase()}`} data-state={state}>
      {state.replace(/_/g, " ").toLowerCase()}
    </span>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre className="json">{JSON.stringify(value, null, 2)}</pre>;
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      <header className="card-head">
        <h2>{title}</h2>
        {actions && <div className="actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}
