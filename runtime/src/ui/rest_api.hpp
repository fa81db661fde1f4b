// The REST API under /api/v1: Spark's paths and JSON field names
// (org.apache.spark.status.api.v1 and its streaming package).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ui/statistics.hpp"

namespace sluice::detail::ui {

/// The application as /api/v1/applications describes it.
struct app_info {
  std::string id;       ///< "local-<start ms>", as Spark's local mode
  std::string name;     ///< sluice.app.name
  std::string user;     ///< the process's user (Spark's sparkUser)
  int64_t start_ms = 0; ///< when the context started, Unix epoch
};

struct api_response {
  int status = 200;
  std::string body;  ///< JSON
};

/// Answers a GET of `path` (starting "/api/v1/", no query string);
/// `status_params` holds the values of the `status` query parameters.
/// Unknown paths, applications, batches, receivers and operations give 404,
/// a bad `status` value 400, each with a JSON body {"status", "message"}.
api_response rest_api(const statistics_snapshot& s, const app_info& app, const std::string& path,
                      const std::vector<std::string>& status_params);

/// The body of an error response: {"status": <status>, "message": <message>}.
std::string error_body(int status, const std::string& message);

/// Spark's date format, "2015-02-03T16:42:59.720GMT", from ms since the epoch.
std::string spark_date(int64_t ms);

} // namespace sluice::detail::ui
