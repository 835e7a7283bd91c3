#include "chaos.hpp"

namespace emu {

Chaos::Chaos(const ChaosConfig& config) : config_(config), rng_(config.seed) {}

ChaosVerdict Chaos::decide() {
  std::uint64_t a = 0, b = 0;
  {
    std::lock_guard lock(mutex_);
    a = rng_();
    b = rng_();
  }
  const double u = static_cast<double>(a >> 11) * 0x1.0p-53;
  ChaosVerdict v;
  if (u < config_.error_rate) {
    v.fault = Fault::http_error;
    switch (b % 3) {
      case 0:
        v.http_status = 500;
        v.content_type = "text/plain";
        v.body = "Internal Server Error\n";
        break;
      case 1:
        v.http_status = 502;
        v.content_type = "text/html";
        v.body =
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 "
            "Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n";
        break;
      default:
        v.http_status = 503;
        v.content_type = "application/json";
        v.body = R"({"code":503,"msg":"Service Temporarily Unavailable"})";
        break;
    }
  } else if (u < config_.error_rate + config_.drop_rate) {
    v.fault = Fault::drop;
  } else if (u < config_.error_rate + config_.drop_rate + config_.truncate_rate) {
    v.fault = Fault::truncate;
  }
  return v;
}

}  // namespace emu
