"""THE SEAM: every place where aiokit reaches into botocore / aiobotocore / boto3 internals.

Code outside this package uses only their public surface (``botocore.exceptions``,
``Config`` / ``AioConfig``, sessions, ``xform_name``, client method calls);
``tests/test_layout.py`` checks that. Each module here is named after the upstream module it
bends. ``tests/test_upstream_pins.py`` holds the digest of every upstream object aiokit
mirrors or overrides (``UPSTREAM_DIGESTS``, with what to re-read when one changes) and the
behavioural pins. Each touch point below names a test that fails when its aiokit line is
deleted or an attribute renamed (``tp`` is ``tests/test_upstream_pins.py``).

The register (module: touch point -> test):

- ``loaders``: one botocore ``Loader`` per process (``create_loader``'s instance cache), so
  service models are parsed once -> ``tp``:
  ``test_no_model_or_ca_file_is_read_on_the_event_loop``; ``models_let_go`` (a sharded
  crawl's driver checks its listings on a loader of its own) -> ``test_runners``:
  ``test_the_models_a_driver_checks_with_are_let_go``.
- ``client``: ``SharedMethods``, a ``creating-client-class`` handler: the client classes
  of one service share the first one's methods (``_create_methods``, ``_create_api_method``
  in ``UPSTREAM_DIGESTS``) -> ``test_pool``:
  ``test_the_clients_of_one_service_share_their_methods_and_keep_their_regions``.
- ``httpsession``: ``SharedSSLHTTPSession._create_connector`` reads aiobotocore's
  ``_cert_file``, ``_verify``, ``_max_pool_connections``, ``_connector_args``; one SSL
  context per CA bundle -> ``tp``: ``test_shared_session_reuses_one_ssl_context``,
  ``test_shared_session_connector_keeps_the_configs_connector_args``; ``test_http``:
  ``test_a_client_certificate_is_presented``.
- ``http11``: ``LeanHTTPSession``, aiokit's HTTP/1.1 for plain requests; reads
  aiobotocore's ``_timeout``, ``_proxy_config``, ``_socket_options``, ``_cert_file``, raises
  its errors, answers ``AioAWSResponse`` -> ``test_http``: ``test_proxy_goes_through_
  aiohttp``, ``test_unanswered_connect_is_a_connect_timeout``, ``test_silent_server_is_a_
  read_timeout``, ``test_socket_options_botocore_asks_for_are_set_on_each_connection``,
  ``test_a_client_certificate_is_presented``.
- ``session``: ``EndpointSession.create_client``: the clients botocore's credential
  providers make (the STS hop of a profile's ``role_arn``, SSO) go to the pool's
  ``endpoint_url`` -> ``test_identities``:
  ``test_a_profiles_role_is_assumed_through_the_pools_endpoint``.
- ``config``: ``merge_config`` / ``config_key`` read ``Config._user_provided_options``;
  ``AioConfig.merge`` drops connector args -> ``tp``:
  ``test_merge_config_keeps_session_class_and_connector_args``.
- ``credentials``: ``UnboundCredentials``, the guard a shared client's signer holds as its
  ``_credentials`` -> the pool's test of the guard (``pins-pool.txt``).
- ``signers``: ``inject_request_credentials`` (``RequestSigner.sign`` honours
  ``request_credentials``) -> ``tp``: ``test_signer_honours_per_request_credentials``;
  ``LeanSigV4Auth`` mirrors ``SigV4Auth`` (``_modify_request_before_signing``,
  ``_canonical_query_string_*``, ``_normalize_url_path``, ``auth._host_from_url``) ->
  ``test_sigv4``: ``test_the_signature_is_botocores``.
- ``parsers``: ``parse_timestamp``; the compiled XML walk mirrors ``BaseXMLResponseParser``
  (``_handle_*``, ``_get_error_root``, ``_namespace_re``, ``_parse_shape``) and reads
  ``ResponseParserFactory._defaults`` -> ``test_parsers`` (every test), ``tp``:
  ``test_xml_parsing_is_the_code_aiokit_mirrors``.
- ``useragent``: ``cache_user_agent`` swaps the class of ``client._user_agent_creator``
  (``UserAgentString._client_features``) -> ``tp``:
  ``test_user_agent_cache_keeps_each_requests_features``.
- ``context``: ``LeanClientContext``, botocore's ``ClientContext`` copied cheaply -> ``tp``:
  ``test_lean_client_context_keeps_each_requests_features``.
- ``regions``: ``EndpointResolver.get_available_endpoints`` for ``aiokit._endpoints`` ->
  ``UPSTREAM_DIGESTS``, ``test_discovery``.
- ``paginate``: ``merge_page`` / ``merge_non_aggregate`` mirror
  ``PageIterator.build_full_result`` (``set_value_from_jmespath``, ``merge_dicts``, the
  iterator's ``non_aggregate_part``) for ``Paginator.full_result`` -> ``UPSTREAM_DIGESTS``,
  ``test_paginate``: ``test_full_result_is_botocores_build_full_result``.

The modules the other parts of the house add here (``client``, ``resources``, ``errors``,
``retries``, ``paginate``, ``waiter`` ...) add their lines to this register.
"""

from __future__ import annotations

from .config import config_key, merge_config
from .context import LeanClientContext, use_lean_client_context
from .credentials import UnboundCredentials
from .httpsession import SharedSSLHTTPSession, shared_ssl_context
from .loaders import shared_loader
from .session import EndpointSession
from .signers import inject_request_credentials
from .useragent import cache_user_agent

__all__ = [
    "EndpointSession",
    "LeanClientContext",
    "SharedSSLHTTPSession",
    "UnboundCredentials",
    "cache_user_agent",
    "config_key",
    "inject_request_credentials",
    "merge_config",
    "shared_loader",
    "shared_ssl_context",
    "use_lean_client_context",
]
