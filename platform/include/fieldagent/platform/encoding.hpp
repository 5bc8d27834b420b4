#pragma once
// Text encodings of bytes: hex (checksums), base64 (HTTP headers, tus checksums),
// base64url (tokens), base32 (TOTP secrets, RFC 4648).
#include <optional>
#include <string>
#include <string_view>

namespace fieldagent::platform {

std::string hexEncode(std::string_view bytes);  // lower case
std::optional<std::string> hexDecode(std::string_view text);

std::string base64Encode(std::string_view bytes);
std::optional<std::string> base64Decode(std::string_view text);
std::string base64UrlEncode(std::string_view bytes);  // no padding

std::string base32Encode(std::string_view bytes);  // with '=' padding
// Accepts upper or lower case, ignores spaces, padding optional (as authenticator apps do).
std::optional<std::string> base32Decode(std::string_view text);

}  // namespace fieldagent::platform
