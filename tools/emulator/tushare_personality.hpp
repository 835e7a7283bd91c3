// The Tushare Pro personality: POST / with {"api_name","token","params","fields"}.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "chaos.hpp"
#include "personality.hpp"
#include "rate_limiter.hpp"
#include "world.hpp"

namespace emu {

struct TushareConfig {
  std::string token = "emulator-token";
  std::size_t row_cap = 6000;
  // daily: more codes in one ts_code list fail as the real API does with very long lists.
  std::size_t max_codes = 0;
  std::uint64_t per_minute = 0;
  std::uint64_t per_day = 0;
  double minute_seconds = 60;
  double day_seconds = 86400;
};

// Error codes and messages (the Chinese texts are the real API's).
inline constexpr int kCodeOk = 0;
inline constexpr int kCodeBadRequest = -1;
inline constexpr int kCodeBadToken = 40101;
inline constexpr int kCodeRateLimited = 40203;

class TusharePersonality final : public Personality {
 public:
  TusharePersonality(std::shared_ptr<const World> world, TushareConfig config,
                     std::shared_ptr<Chaos> chaos);

  std::string_view name() const override { return "tushare"; }
  HttpReply handle(const HttpRequest& request) override;
  void describe(const HttpRequest& request, AuditRecord& audit) const override;

 private:
  using Params = std::map<std::string, std::string, std::less<>>;
  struct Answer;

  bool build_answer(const std::string& api, const Params& params, Answer& answer,
                    std::string& error) const;

  std::shared_ptr<const World> world_;
  TushareConfig config_;
  std::shared_ptr<Chaos> chaos_;
  std::mutex gate_;  // limit check + chaos decision + counting happen as one step
  RateLimiter limiter_;
};

}  // namespace emu
