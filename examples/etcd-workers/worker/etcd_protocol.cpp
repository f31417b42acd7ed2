#include "etcd_protocol.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

namespace worker {
namespace {

using json = nlohmann::json;

std::string to_lower(std::string text)
{
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

/// Value of header `name` (lower-case) in the header block, or "" when absent.
std::string header_value(const std::string& headers, const std::string& name)
{
  std::size_t start = 0;
  while (start < headers.size()) {
    std::size_t end = headers.find("\r\n", start);
    end = end == std::string::npos ? headers.size() : end;
    const std::string line = headers.substr(start, end - start);
    const auto colon = line.find(':');
    if (colon != std::string::npos && to_lower(line.substr(0, colon)) == name) {
      const auto first = line.find_first_not_of(" \t", colon + 1);
      return first == std::string::npos ? "" : line.substr(first);
    }
    start = end + 2;
  }
  return "";
}

bool decode_chunked(const std::string& data, std::string* body, std::string* err)
{
  std::size_t pos = 0;
  while (true) {
    const auto line_end = data.find("\r\n", pos);
    if (line_end == std::string::npos) {
      *err = "truncated chunked body";
      return false;
    }
    std::size_t size = 0;
    try {
      size = std::stoul(data.substr(pos, line_end - pos), nullptr, 16);
    } catch (const std::exception&) {
      *err = "bad chunk size";
      return false;
    }
    if (size == 0) {
      return true;
    }
    pos = line_end + 2;
    if (data.size() < pos + size + 2) {
      *err = "truncated chunked body";
      return false;
    }
    body->append(data, pos, size);
    pos += size + 2;
  }
}

bool parse_status_line(const std::string& line, int* status)
{
  if (line.rfind("HTTP/1.", 0) != 0 || line.size() < 12 || line[8] != ' ') {
    return false;
  }
  const std::string code = line.substr(9, 3);
  if (!std::all_of(code.begin(), code.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return false;
  }
  *status = std::stoi(code);
  return true;
}

bool frame_body(const std::string& headers, const std::string& rest, std::string* body, std::string* err)
{
  if (to_lower(header_value(headers, "transfer-encoding")).find("chunked") != std::string::npos) {
    return decode_chunked(rest, body, err);
  }
  const std::string length = header_value(headers, "content-length");
  if (length.empty()) {
    *body = rest;
    return true;
  }
  const auto expected = std::strtoull(length.c_str(), nullptr, 10);
  if (rest.size() < expected) {
    *err = "truncated body (" + std::to_string(rest.size()) + " of " + length + " bytes)";
    return false;
  }
  *body = rest.substr(0, expected);
  return true;
}

} // namespace

std::optional<Endpoint> parse_endpoint(const std::string& url)
{
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    return std::nullopt;
  }
  std::string authority = url.substr(scheme.size());
  if (!authority.empty() && authority.back() == '/') {
    authority.pop_back();
  }
  if (authority.empty() || authority.find('/') != std::string::npos) {
    return std::nullopt;
  }
  const auto colon = authority.rfind(':');
  if (colon == std::string::npos) {
    return Endpoint{authority, "80"};
  }
  const std::string port = authority.substr(colon + 1);
  if (colon == 0 || port.empty() ||
      !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  return Endpoint{authority.substr(0, colon), port};
}

std::string base64_encode(const std::string& bytes)
{
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64_decode(const std::string& text)
{
  if (text.size() % 4 != 0) {
    return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) {
    return std::nullopt;
  }
  // EVP_DecodeBlock counts the bytes that '=' padding stands for; drop them.
  const auto padding = text.size() - std::min(text.size(), text.find_last_not_of('=') + 1);
  if (padding > 2) {
    return std::nullopt;
  }
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

std::string build_put_body(const std::string& key, const std::string& value, const std::string& lease)
{
  json body{{"key", base64_encode(key)}, {"value", base64_encode(value)}};
  if (!lease.empty()) {
    body["lease"] = lease;
  }
  return body.dump();
}

std::string build_lease_grant_body(long ttl_seconds)
{
  return json{{"TTL", std::to_string(ttl_seconds)}}.dump();
}

std::optional<std::string> parse_lease_id(const std::string& body)
{
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("ID") || !doc["ID"].is_string() || doc["ID"].get<std::string>().empty()) {
    return std::nullopt;
  }
  return doc["ID"].get<std::string>();
}

std::string build_keepalive_body(const std::string& lease)
{
  return json{{"ID", lease}}.dump();
}

std::optional<long> parse_keepalive_ttl(const std::string& body)
{
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("result") || !doc["result"].is_object()) {
    return std::nullopt;
  }
  const json& result = doc["result"];
  if (!result.contains("TTL")) {
    return 0;
  }
  try {
    return result["TTL"].is_string() ? std::stol(result["TTL"].get<std::string>()) : result["TTL"].get<long>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::string build_range_body(const std::string& key)
{
  return json{{"key", base64_encode(key)}}.dump();
}

std::optional<std::string> parse_range_value(const std::string& body, std::string* err)
{
  const json doc = json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("header")) {
    *err = "not a range response";
    return std::nullopt;
  }
  const auto kvs = doc.find("kvs");
  if (kvs == doc.end() || !kvs->is_array() || kvs->empty()) {
    *err = "key not found";
    return std::nullopt;
  }
  const json& kv = kvs->front();
  // etcd's gateway omits "value" for an empty value.
  auto value = base64_decode(kv.value("value", std::string()));
  if (!value) {
    *err = "value is not base64";
  }
  return value;
}

std::string build_http_post(const Endpoint& endpoint, const std::string& path, const std::string& body)
{
  return "POST " + path + " HTTP/1.1\r\n" + "Host: " + endpoint.host + ":" + endpoint.port + "\r\n" +
         "Content-Type: application/json\r\n" + "Content-Length: " + std::to_string(body.size()) + "\r\n" +
         "Connection: close\r\n\r\n" + body;
}

std::optional<HttpResponse> parse_http_response(const std::string& raw, std::string* err)
{
  const auto head_end = raw.find("\r\n\r\n");
  if (head_end == std::string::npos) {
    *err = raw.empty() ? "empty response" : "truncated response headers";
    return std::nullopt;
  }
  const auto status_end = raw.find("\r\n");
  HttpResponse response;
  if (!parse_status_line(raw.substr(0, status_end), &response.status)) {
    *err = "bad status line";
    return std::nullopt;
  }
  const std::string headers = raw.substr(status_end + 2, head_end - status_end - 2);
  if (!frame_body(headers, raw.substr(head_end + 4), &response.body, err)) {
    return std::nullopt;
  }
  return response;
}

std::string gateway_error_message(const std::string& body)
{
  const json doc = json::parse(body, nullptr, false);
  std::string message = body;
  if (doc.is_object() && doc.contains("message") && doc["message"].is_string()) {
    message = doc["message"].get<std::string>();
  } else if (doc.is_object() && doc.contains("error") && doc["error"].is_string()) {
    message = doc["error"].get<std::string>();
  }
  message = message.substr(0, message.find('\n'));
  return message.size() > 200 ? message.substr(0, 200) + "..." : message;
}

} // namespace worker
