#include "sluice/cluster_auth.hpp"

#include <stdexcept>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

namespace sluice::detail {

namespace {

std::string hex(const unsigned char* data, size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0xf];
  }
  return out;
}

} // namespace

std::string make_nonce() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw std::runtime_error("sluice: OpenSSL could not make a random nonce");
  return hex(bytes, sizeof bytes);
}

std::string hmac_sha256_hex(const std::string& secret, const std::string& message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &len)
      == nullptr)
    throw std::runtime_error("sluice: OpenSSL could not compute an HMAC");
  return hex(out, len);
}

bool same_proof(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> proof_refusal(const std::string& secret, const std::string& nonce,
                                         const std::string& proof, const std::string& verifier) {
  if (secret.empty() || same_proof(proof, hmac_sha256_hex(secret, nonce)))
    return std::nullopt;
  if (proof.empty())
    return "it has no secret (sluice.cluster.secret) and " + verifier + " requires one";
  return "wrong secret (sluice.cluster.secret)";
}

} // namespace sluice::detail
