// Secrets are masked wherever text leaves the process.
#include <gtest/gtest.h>

#include "core/secrets.hpp"

using namespace finsync;

TEST(Secrets, RegisteredValuesAreMasked) {
  secrets::register_secret("s3cr3t-token-value");
  EXPECT_EQ(secrets::mask("POST / {\"token\":\"s3cr3t-token-value\"} failed"),
            "POST / {\"token\":\"***\"} failed");
  EXPECT_EQ(secrets::mask("x s3cr3t-token-value y s3cr3t-token-value"), "x *** y ***");
}

TEST(Secrets, CredentialsMaskedByShape) {
  EXPECT_EQ(secrets::mask("postgresql://user:hunter2@db:5432/x"),
            "postgresql://user:***@db:5432/x");
  EXPECT_EQ(secrets::mask("GET https://h/q?symbol=A&apikey=ZZZ123&x=1"),
            "GET https://h/q?symbol=A&apikey=***&x=1");
  EXPECT_EQ(secrets::mask(R"({"api_key": "k-999", "n": 1})"), R"({"api_key": "***", "n": 1})");
  EXPECT_EQ(secrets::mask("password=pw1 token: abc"), "password=*** token: ***");
  EXPECT_EQ(secrets::mask("nothing secret here"), "nothing secret here");
}

TEST(Secrets, ShortValuesAreNotRegistered) {
  secrets::register_secret("ab");
  EXPECT_EQ(secrets::mask("ab cab"), "ab cab");
}
