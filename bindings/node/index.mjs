// ES module entry of dagnats-observe: the same objects as the CommonJS entry (index.js),
// so `import` and `require` share one AsyncLocalStorage and one native addon.
import observe from './index.js'

export const {
  Telemetry,
  Tracer,
  Logger,
  Span,
  SpanContext,
  Metrics,
  Counter,
  Gauge,
  Histogram,
  SpanKind,
  StatusCode,
  currentSpan,
  withSpan,
  inject,
  extract,
  validateConnectOptions,
} = observe

export default observe
