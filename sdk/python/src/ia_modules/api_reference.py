"""The REST API reference page (/docs): one self-contained HTML page rendered from the OpenAPI document.

No script and no CDN: the page is plain HTML and CSS, so that it works offline and
behind any proxy. Every text taken from the document is escaped.
"""

from __future__ import annotations

from html import escape

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#1d2330}
h1,h2,h3{line-height:1.2} h2{margin-top:2.5rem;border-bottom:1px solid #d8dde6;padding-bottom:.3rem}
.op{border:1px solid #d8dde6;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.verb{display:inline-block;min-width:4.2rem;font:600 13px monospace;text-transform:uppercase}
.get{color:#1b6ac9}.post{color:#1c8a4c}.patch{color:#a66a00}.delete{color:#c22}.put{color:#7a3ec8}
code{font-family:ui-monospace,monospace;background:#f2f4f8;padding:0 .25rem;border-radius:3px}
table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{text-align:left;border-top:1px solid #e5e8ee;padding:.25rem .5rem;vertical-align:top}
pre{white-space:pre-wrap;margin:.3rem 0}
nav a{margin-right:1rem}
"""


_STATUS_LINK = "<a href='#google.rpc.Status'>google.rpc.Status</a>"


def render(document: dict) -> str:
    """The reference page of `document` (an OpenAPI 3 document) as HTML text."""
    info = document.get("info", {})
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(info.get('title', 'API'))}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(info.get('title', 'API'))} <small>{escape(str(info.get('version', '')))}</small></h1>",
        f"<p>{escape(info.get('description', ''))}</p>",
        "<p>The machine-readable document: <a href='/openapi.json'><code>/openapi.json</code></a>.</p>",
        "<nav>",
        *(f"<a href='#{escape(tag['name'])}'>{escape(tag['name'])}</a>" for tag in document.get("tags", [])),
        "<a href='#schemas'>Schemas</a></nav>",
    ]
    operations = [
        (verb, path, operation) for path, item in document.get("paths", {}).items() for verb, operation in item.items()
    ]
    for tag in document.get("tags", []):
        parts.append(f"<h2 id='{escape(tag['name'])}'>{escape(tag['name'])}</h2>")
        parts.append(f"<pre>{escape(tag.get('description', ''))}</pre>")
        for verb, path, operation in operations:
            if tag["name"] in operation.get("tags", []):
                parts.append(_operation(verb, path, operation))
    parts.append("<h2 id='schemas'>Schemas</h2>")
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        parts.append(_schema(name, schema))
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _operation(verb: str, path: str, operation: dict) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
        f"<td>{_type(p.get('schema', {}))}</td><td>{escape(p.get('description', ''))}</td></tr>"
        for p in operation.get("parameters", [])
    )
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    ok = operation.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get("schema")
    return (
        f"<div class='op' id='{escape(operation.get('operationId', ''))}'>"
        f"<h3><span class='verb {escape(verb)}'>{escape(verb)}</span> <code>{escape(path)}</code></h3>"
        f"<pre>{escape(operation.get('description', ''))}</pre>"
        + (f"<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>{rows}</table>" if rows else "")
        + (f"<p>Request body: {_type(body)}</p>" if body else "")
        + (f"<p>Response: {_type(ok)}; on failure a {_STATUS_LINK}.</p>" if ok else "")
        + "</div>"
    )


def _schema(name: str, schema: dict) -> str:
    head = f"<div class='op' id='{escape(name)}'><h3><code>{escape(name)}</code></h3>"
    head += f"<pre>{escape(schema.get('description', ''))}</pre>"
    if "enum" in schema:
        return head + "<p>One of: " + ", ".join(f"<code>{escape(v)}</code>" for v in schema["enum"]) + "</p></div>"
    rows = "".join(
        f"<tr><td><code>{escape(field)}</code></td><td>{_type(value)}</td>"
        f"<td>{escape(value.get('description', ''))}</td></tr>"
        for field, value in schema.get("properties", {}).items()
    )
    return head + (f"<table><tr><th>field</th><th>type</th><th></th></tr>{rows}</table>" if rows else "") + "</div>"


def _type(schema: dict) -> str:
    """A short, linked description of a schema's type."""
    if "$ref" in schema:
        target = schema["$ref"].rsplit("/", 1)[-1]
        return f"<a href='#{escape(target)}'><code>{escape(target)}</code></a>"
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return _type(schema["allOf"][0])
    kind = schema.get("type")
    if kind == "array":
        return f"list of {_type(schema.get('items', {}))}"
    if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
        return f"map of {_type(schema['additionalProperties'])}"
    if kind is None:
        return "any JSON value"
    text = f"{kind} ({schema['format']})" if "format" in schema else kind
    return escape(text)
