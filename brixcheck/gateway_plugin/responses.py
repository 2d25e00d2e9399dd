"""ext_proc answers as AIBrix v0.5.0's gateway plugin builds them: header mutations and the
OpenAI-style error bodies of ``pkg/plugins/gateway/util.go`` (generateErrorResponse,
buildErrorResponse), with the header names of ``pkg/plugins/gateway/types.go``.

Two builders exist in v0.5.0 and differ in one detail the suite checks: `error_response`
(generateErrorResponse) adds ``Content-Type: application/json``; `error_response_bare`
(buildErrorResponse) does not, so Envoy's local reply goes out as ``text/plain``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from envoy.config.core.v3.base_pb2 import HeaderValue, HeaderValueOption
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.type.v3.http_status_pb2 import HttpStatus

# pkg/plugins/gateway/types.go
ERROR_INVALID_ROUTING = "x-error-invalid-routing-strategy"
ERROR_USER = "x-error-user"
ERROR_ROUTING = "x-error-routing"
ERROR_BODY = "x-error-request-body-processing"
ERROR_RESPONSE_UNMARSHAL = "x-error-response-unmarshal"
ERROR_RESPONSE_UNKNOWN = "x-error-response-unknown"
ERROR_NO_MODEL_BACKENDS = "x-error-no-model-backends"
ERROR_STREAM = "x-error-stream"
ERROR_STREAMING = "x-error-streaming"
ERROR_STREAM_INCLUDE_USAGE = "x-error-no-stream-options-include-usage"
ERROR_RPM_EXCEEDED = "x-error-rpm-exceeded"
ERROR_TPM_EXCEEDED = "x-error-tpm-exceeded"
ERROR_INCR_RPM = "x-error-incr-rpm"
ERROR_INCR_TPM = "x-error-incr-tpm"
WENT_INTO_REQ_HEADERS = "x-went-into-req-headers"
TARGET_POD = "target-pod"
ROUTING_STRATEGY = "routing-strategy"
REQUEST_ID = "request-id"
MODEL = "model"
UPDATE_RPM = "x-update-rpm"
UPDATE_TPM = "x-update-tpm"

# util.go OpenAI error codes
CODE_INVALID_API_KEY = "invalid_api_key"
CODE_MODEL_NOT_FOUND = "model_not_found"
CODE_RATE_LIMIT = "rate_limit_exceeded"
CODE_UNAVAILABLE = "service_unavailable"

_ERROR_TYPES = {400: "invalid_request_error", 404: "invalid_request_error",
                401: "authentication_error", 429: "rate_limit_error", 503: "overloaded_error"}


def header(key: str, value: str) -> HeaderValueOption:
    """One header set as v0.5.0 sets it (``raw_value``)."""
    return HeaderValueOption(header=HeaderValue(key=key, raw_value=value.encode()))


def headers(*pairs: str) -> list[HeaderValueOption]:
    """Headers from alternating names and values (buildEnvoyProxyHeaders; odd count: none)."""
    if len(pairs) % 2:
        return []
    return [header(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)]


def error_body(message: str, status: int, code: str = "", param: str = "") -> str:
    """The OpenAI error JSON (generateErrorMessageWithHTTPCode): type from the status."""
    error = {"message": message, "type": _ERROR_TYPES.get(status, "api_error"),
             "code": code or None, "param": param or None}
    # Go's json.Marshal of a map sorts keys and escapes <, >, & as \\u003c...; keep both.
    text = json.dumps({"error": error}, separators=(",", ":"), sort_keys=True,
                      ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _immediate(status: int, set_headers: Sequence[HeaderValueOption],
               body: str) -> pb.ProcessingResponse:
    return pb.ProcessingResponse(immediate_response=pb.ImmediateResponse(
        status=HttpStatus(code=status), headers=pb.HeaderMutation(set_headers=list(set_headers)),
        body=body.encode()))


def error_response(status: int, set_headers: Sequence[HeaderValueOption], message: str,
                   code: str = "", param: str = "") -> pb.ProcessingResponse:
    """generateErrorResponse: the given headers plus ``Content-Type: application/json``."""
    content_type = HeaderValueOption(header=HeaderValue(key="Content-Type",
                                                        value="application/json"))
    return _immediate(status, [*set_headers, content_type],
                      error_body(message, status, code, param))


def error_response_bare(status: int, message: str, code: str, param: str,
                        *pairs: str) -> pb.ProcessingResponse:
    """buildErrorResponse: only the given header pairs, no Content-Type."""
    return _immediate(status, headers(*pairs), error_body(message, status, code, param))


def request_headers_response(set_headers: Sequence[HeaderValueOption]) -> pb.ProcessingResponse:
    """Continue after request headers, clearing the route cache (gateway_req_headers.go)."""
    return pb.ProcessingResponse(request_headers=pb.HeadersResponse(response=pb.CommonResponse(
        header_mutation=pb.HeaderMutation(set_headers=list(set_headers)),
        clear_route_cache=True)))


def request_body_response(set_headers: Sequence[HeaderValueOption],
                          body: bytes) -> pb.ProcessingResponse:
    """Continue after the request body with headers set and the body replaced by itself."""
    return pb.ProcessingResponse(request_body=pb.BodyResponse(response=pb.CommonResponse(
        header_mutation=pb.HeaderMutation(set_headers=list(set_headers)),
        body_mutation=pb.BodyMutation(body=body))))


def response_headers_response(set_headers: Sequence[HeaderValueOption]) -> pb.ProcessingResponse:
    """Continue after response headers (gateway_rsp_headers.go clears the route cache too)."""
    return pb.ProcessingResponse(response_headers=pb.HeadersResponse(response=pb.CommonResponse(
        header_mutation=pb.HeaderMutation(set_headers=list(set_headers)),
        clear_route_cache=True)))


def response_body_response(set_headers: Sequence[HeaderValueOption] = ()
                           ) -> pb.ProcessingResponse:
    """Continue after one response body chunk, with headers set when the usage was seen."""
    if not set_headers:
        return EMPTY_BODY_RESPONSE
    return pb.ProcessingResponse(response_body=pb.BodyResponse(response=pb.CommonResponse(
        header_mutation=pb.HeaderMutation(set_headers=list(set_headers)))))


# The answer to most streamed chunks; built once because every SSE chunk passes the plugin.
EMPTY_BODY_RESPONSE = pb.ProcessingResponse(response_body=pb.BodyResponse(
    response=pb.CommonResponse(header_mutation=pb.HeaderMutation())))
