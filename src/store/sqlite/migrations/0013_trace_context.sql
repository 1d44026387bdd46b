-- Issue 18: the W3C trace context a task was created under (`TRACEPARENT` or `TRACEPARENT TRACESTATE`),
-- written only when a recording OpenTelemetry span was active at creation (docs/tracing.md): its runs'
-- spans join that trace. NULL otherwise.
ALTER TABLE tasks ADD COLUMN trace_context TEXT;
