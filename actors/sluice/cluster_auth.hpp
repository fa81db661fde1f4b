// The cluster's shared-secret handshake: the driver sends a fresh nonce, the
// worker answers HMAC-SHA256(secret, nonce), so the secret never crosses the
// wire (sluice.cluster.secret, DESIGN.md "Distribution").
#pragma once

#include <optional>
#include <string>

namespace sluice::detail {

/// 32 random bytes from OpenSSL's generator, as 64 hex digits.
std::string make_nonce();

/// HMAC-SHA256 of `message` under `secret`, as 64 hex digits.
std::string hmac_sha256_hex(const std::string& secret, const std::string& message);

/// Compares two proofs in time independent of where they differ.
bool same_proof(const std::string& a, const std::string& b);

/// Null when `proof` is HMAC-SHA256(`secret`, `nonce`) or no secret is set;
/// else why the prover is refused, `verifier` naming who asks for the
/// secret (e.g. "the driver").
std::optional<std::string> proof_refusal(const std::string& secret, const std::string& nonce,
                                         const std::string& proof, const std::string& verifier);

} // namespace sluice::detail
