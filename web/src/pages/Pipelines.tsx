/** The registered pipelines: search by name prefix, page through, delete; and one pipeline's versions. */
import { useEffect, useState } from "react";
import type { PipelineVersion } from "@ia-modules/sdk";
import { client, definitionJson, formatTime } from "../api";
import { ErrorBox, Json, Section } from "../ui";

const PAGE_SIZE = 20;

export function PipelinesPage() {
  const [search, setSearch] = useState("");
  const [query, setQuery] = useState("");
  // Tokens of the pages seen so far, to go back; the first page's token is "".
  const [tokens, setTokens] = useState<string[]>([""]);
  const [page, setPage] = useState<{ items: PipelineVersion[]; next: string } | null>(null);
  const [error, setError] = useState<unknown>();
  const [confirming, setConfirming] = useState<string | null>(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const timer = setTimeout(() => {
      setQuery(search.trim());
      setTokens([""]);
    }, 250);
    return () => clearTimeout(timer);
  }, [search]);

  const token = tokens[tokens.length - 1];
  useEffect(() => {
    const abort = new AbortController();
    client.registry
      .listPipelines({ namePrefix: query, pageSize: PAGE_SIZE, pageToken: token }, { signal: abort.signal })
      .then((reply) => {
        setPage({ items: reply.pipelines, next: reply.nextPageToken });
        setError(undefined);
      })
      .catch((e) => abort.signal.aborted || setError(e));
    return () => abort.abort();
  }, [query, token, reload]);

  const remove = async (name: string) => {
    try {
      await client.deletePipeline(name);
      setConfirming(null);
      setReload((n) => n + 1);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <Section
      title="Pipelines"
      actions={
        <a className="button primary" href="#/editor">
          New pipeline
        </a>
      }
    >
      <div className="toolbar">
        <label htmlFor="pipeline-search" className="sr-only">
          Search pipelines by name
        </label>
        <input
          id="pipeline-search"
          type="search"
          placeholder="Search by name prefix…"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
      </div>
      <ErrorBox error={error} />
      {page && page.items.length === 0 && <p className="muted">No pipeline{query ? ` starts with “${query}”` : " yet"}.</p>}
      {page && page.items.length > 0 && (
        <div className="table-wrap">
          <table data-testid="pipelines">
            <thead>
              <tr>
                <th>Name</th>
                <th>Revision</th>
                <th className="wide">Description</th>
                <th className="wide">Saved</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {page.items.map((p) => (
                <tr key={p.name} data-pipeline={p.name}>
                  <td>
                    <a href={`#/pipelines/${encodeURIComponent(p.name)}`}>{p.name}</a>
                  </td>
                  <td>{String(p.revision)}</td>
                  <td className="wide">{p.definition?.description}</td>
                  <td className="wide nowrap">{formatTime(p.createTime)}</td>
                  <td className="actions nowrap">
                    <a className="button primary" href={`#/start/${encodeURIComponent(p.name)}`}>
                      Run
                    </a>
                    <a className="button" href={`#/editor/${encodeURIComponent(p.name)}`}>
                      Edit
                    </a>
                    {confirming === p.name ? (
                      <>
                        <button className="danger" onClick={() => remove(p.name)}>
                          Delete all revisions
                        </button>
                        <button onClick={() => setConfirming(null)}>Keep</button>
                      </>
                    ) : (
                      <button onClick={() => setConfirming(p.name)}>Delete</button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <div className="pager">
        <button disabled={tokens.length < 2} onClick={() => setTokens((t) => t.slice(0, -1))}>
          Previous
        </button>
        <span className="muted">Page {tokens.length}</span>
        <button disabled={!page?.next} onClick={() => page && setTokens((t) => [...t, page.next])}>
          Next
        </button>
      </div>
    </Section>
  );
}

export function VersionsPage({ name }: { name: string }) {
  const [versions, setVersions] = useState<PipelineVersion[]>([]);
  const [shown, setShown] = useState<bigint | null>(null);
  const [error, setError] = useState<unknown>();

  useEffect(() => {
    client.registry
      .listPipelineVersions({ name, pageSize: 100 })
      .then((reply) => setVersions(reply.versions))
      .catch(setError);
  }, [name]);

  const current = versions.find((v) => v.revision === shown);
  return (
    <Section
      title={`Versions of ${name}`}
      actions={
        <>
          <a className="button primary" href={`#/start/${encodeURIComponent(name)}`}>
            Run
          </a>
          <a className="button" href={`#/editor/${encodeURIComponent(name)}`}>
            Edit
          </a>
          <a className="button" href={`#/runs?pipeline=${encodeURIComponent(name)}`}>
            Runs
          </a>
        </>
      }
    >
      <ErrorBox error={error} />
      <div className="table-wrap">
        <table data-testid="versions">
          <thead>
            <tr>
              <th>Revision</th>
              <th>Version</th>
              <th>Saved</th>
              <th>Dialect</th>
              <th>Content hash</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {versions.map((v) => (
              <tr key={String(v.revision)}>
                <td>{String(v.revision)}</td>
                <td>{v.definition?.version}</td>
                <td className="nowrap">{formatTime(v.createTime)}</td>
                <td>{v.sourceDialect}</td>
                <td>
                  <code>{v.contentHash.slice(0, 12)}</code>
                </td>
                <td>
                  <button onClick={() => setShown(shown === v.revision ? null : v.revision)}>
                    {shown === v.revision ? "Hide" : "Show"}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {current && <Json value={definitionJson(current.definition)} />}
    </Section>
  );
}
