// sluice.streaming.stopGracefullyOnShutdown: SIGTERM and SIGINT stop every
// registered context gracefully (Spark's shutdown hook).
#pragma once

namespace sluice::detail {

class context_impl;

/// Installs the SIGTERM/SIGINT handlers on first use. The handler only
/// writes to a pipe; a watcher thread asks each registered context to stop
/// gracefully (on its lifecycle thread).
void register_shutdown_hook(context_impl* ctx);

void unregister_shutdown_hook(context_impl* ctx);

} // namespace sluice::detail
