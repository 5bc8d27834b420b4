#include "api/metrics_text.hpp"

#include <sstream>

namespace fieldagent::agent::api {

std::string metricsText(LocalApiContext& context) {
  auto& m = context.metrics;
  std::ostringstream out;
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n" << name << ' ' << v << '\n';
  };
  counter("fieldagent_pulls_total", "Pulls from upstream.", m.pulls);
  counter("fieldagent_pull_failures_total", "Pulls that failed.", m.pullFailures);
  counter("fieldagent_drains_total", "Outbox drains.", m.drains);
  counter("fieldagent_operations_done_total", "Outbox operations upstream confirmed.", m.opsDone);
  counter("fieldagent_operations_retried_total", "Outbox sends to retry later.", m.opsRetried);
  counter("fieldagent_operations_rejected_total", "Outbox operations upstream rejected.", m.opsRejected);
  counter("fieldagent_conflicts_total", "Conflicts recorded.", m.opsConflicts);
  counter("fieldagent_api_requests_total", "Local API requests.", m.apiRequests);
  counter("fieldagent_api_errors_total", "Local API requests answered 4xx/5xx.", m.apiErrors);
  counter("fieldagent_sla_at_risk_total", "SLA-at-risk events.", m.slaAtRisk);
  counter("fieldagent_events_total", "Events published.", context.events.published());
  out << "# HELP fieldagent_outbox_operations Outbox operations by state.\n# TYPE fieldagent_outbox_operations gauge\n";
  if (auto counts = context.store.outbox().outboxCounts()) {
    for (const auto& [st, n] : counts->byState)
      out << "fieldagent_outbox_operations{state=\"" << storage::toString(st) << "\"} " << n << '\n';
    out << "# HELP fieldagent_outbox_oldest_pending_age_seconds Age of the oldest pending operation.\n"
        << "# TYPE fieldagent_outbox_oldest_pending_age_seconds gauge\nfieldagent_outbox_oldest_pending_age_seconds "
        << (counts->oldestPendingCreatedAt ? std::chrono::duration_cast<std::chrono::seconds>(
                                                 context.clock.now() - *counts->oldestPendingCreatedAt)
                                                 .count()
                                           : 0)
        << '\n';
  }
  out << "# HELP fieldagent_session_active 1 while signed in upstream.\n# TYPE fieldagent_session_active gauge\n"
      << "fieldagent_session_active " << (context.session.status().state == sync::SessionState::active ? 1 : 0)
      << '\n';
  return out.str();
}

}  // namespace fieldagent::agent::api
