"""Pins on the botocore / aiobotocore / boto3 internals aiokit relies on (the seam,
``aiokit/_botocore/``; its ``__init__`` is the register).

Two kinds: ``UPSTREAM_DIGESTS``, the source digest of every upstream function or class aiokit
mirrors, overrides or relies on the internals of (aiobotocore's ``tests/test_patches.py``
style), and behavioural tests that fail when upstream changes what an override depends on.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import importlib
import inspect
import random
import sys
import threading
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
import pytest
from aiobotocore.client import AioBaseClient
from aiobotocore.config import AioConfig
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.parsers import AioResponseParserFactory
from aiobotocore.session import AioSession
from aiobotocore.signers import AioRequestSigner
from botocore.context import ClientContext, get_context
from botocore.parsers import QueryParser, ResponseParserFactory
from botocore.useragent import UserAgentString
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from dateutil.tz import tzutc

import aiokit
from aiokit._botocore import (
    LeanClientContext,
    SharedSSLHTTPSession,
    merge_config,
    shared_ssl_context,
    use_lean_client_context,
)
from aiokit._botocore.parsers import parse_timestamp
from aiokit.testing import TEST_CREDENTIALS

if TYPE_CHECKING:
    from tests.conftest import PlainClient

pytestmark = pytest.mark.asyncio


# How to update these
# -------------------
# Each entry is an upstream object (dotted path) and the sha1 digests of its source
# (``inspect.getsource``) in the upstream versions aiokit has been checked against. When an
# upgrade of botocore / aiobotocore / boto3 changes one, the test names it: re-read the aiokit
# code named in the comment above the entry against the new upstream source, fix aiokit if
# the behaviour it relies on moved, then ADD the new digest to the set (keep the old ones
# while older upstream versions are still supported). Get it with:
#   python -c "import hashlib, inspect, botocore.auth as m; \
#              print(hashlib.sha1(inspect.getsource(m.SigV4Auth.add_auth).encode()).hexdigest())"
# Checked against botocore 1.40.61, aiobotocore 2.25.1, boto3 1.40.61, aioboto3 15.5.0.
UPSTREAM_DIGESTS: dict[str, set[str]] = {
    # _botocore/loaders.py, shared_loader(): one Loader per process, its instance cache
    # holding every parsed model (re-read: does create_loader still cache per instance?)
    "botocore.loaders.create_loader": {"b38abed914b63a17b5f293391614a8f72b9d4066"},
    "botocore.loaders.Loader.load_service_model": {"59c29389751f35bff84491125d0dd052e7f569c8"},
    "botocore.loaders.Loader.load_data": {"b702b6d0eb9f7e8d2b4ccebf0e16212be7aac1da"},
    "botocore.loaders.instance_cache": {"f112ee26c1f2ff697982406e5cf36bc3f9c589f0"},
    # _botocore/httpsession.py, SharedSSLHTTPSession._create_connector: reads _cert_file,
    # _verify, _max_pool_connections, _connector_args set by __init__, builds the connector
    # aiobotocore would (re-read: the attributes, and what _create_connector passes aiohttp)
    "aiobotocore.httpsession.AIOHTTPSession.__init__": {"73cbe4bebb0678027866deeb47f476ea0420c40d"},
    "aiobotocore.httpsession.AIOHTTPSession._create_connector": {
        "9820b0a49e105802b977aed609f4913909b622a7"
    },
    "botocore.httpsession.create_urllib3_context": {"33dfe4f7e4fc6f8d2d4a37e6e8226101ddb052db"},
    "botocore.httpsession.get_cert_path": {"dba81c0de908bc645a29bd30d4d55101a6597442"},
    # _botocore/http11.py, LeanHTTPSession: sends plain requests itself, with aiobotocore's
    # errors, response class, proxy choice and close (re-read: send's error mapping, _timeout,
    # _proxy_config, __aexit__, AioAWSResponse's constructor)
    "aiobotocore.httpsession.AIOHTTPSession.send": {"12ca98c0c82a1796b11556e16ef6b291317a9772"},
    "aiobotocore.httpsession.AIOHTTPSession.__aexit__": {
        "84c29375bfbe1bcf94b1034504f439ec9209c876"
    },
    "aiobotocore.awsrequest.AioAWSResponse": {"31f3b286875b201456d4875538484c6719c0619e"},
    "botocore.httpsession.ProxyConfiguration.proxy_url_for": {
        "2e83e7e7f290f0b0db700936c7e9d305e9c17044"
    },
    # _botocore/session.py, EndpointSession.create_client: the clients credential providers
    # make come through session.create_client(*args, **kwargs), endpoint_url sixth positional
    "aiobotocore.session.AioSession.create_client": {"deedfbc38a7a36a0f62e1543bf611843a56e5c89"},
    "aiobotocore.session.AioSession._create_client": {"2106c4a5f7b703961e07464a5da07cee14eddbbd"},
    "aiobotocore.credentials._get_client_creator": {"1b3a7d4584640d59444a7ec3a6623ade2f4e074e"},
    "aiobotocore.utils.create_nested_client": {"317f0517c89173923259f89ac6a8d8b71e6a99cf"},
    # _botocore/config.py, merge_config / config_key: _user_provided_options holds what the
    # caller set; AioConfig.merge drops connector_args and http_session_cls
    "botocore.config.Config.__init__": {"6fc4a93368f301f6cd8e9e0e17710562c4f2e362"},
    "botocore.config.Config.merge": {"c3dd8c3ffe0da86953ceba4a35267dfb79c6a2c8"},
    "aiobotocore.config.AioConfig.__init__": {"cb1c4a5f2966502ddbcd0d3c9bd2bcd1d99bef1c"},
    "aiobotocore.config.AioConfig.merge": {"b239f5a9a61fff5f8cf3eee0b65547f5a3dfe0e4"},
    # _botocore/signers.py + credentials.py: inject_request_credentials (sign honours
    # request_credentials), UnboundCredentials (get_auth_instance calls
    # get_frozen_credentials on the signer's _credentials), LeanRequestSigner
    "aiobotocore.signers.AioRequestSigner.get_auth_instance": {
        "a567f309d9463ec5df192e0d6c95767acb686f26"
    },
    "aiobotocore.signers.AioRequestSigner.sign": {"0b902fe7bf05324825bb53602e2e9fb445e07b19"},
    # _botocore/signers.py, LeanSigV4Auth: botocore's SigV4, byte for byte (re-read the
    # whole of LeanSigV4Auth.add_auth and _canonical against these)
    "botocore.auth.SigV4Auth.add_auth": {"3dc848e82087529461087e1a1b09a4a7e61c7aa7"},
    "botocore.auth.SigV4Auth._modify_request_before_signing": {
        "7cb38f189f1a18aaef271e3d570eb3bac0b34a6f"
    },
    "botocore.auth.SigV4Auth.canonical_request": {"a2f91818c4a7bf71c4b8bc63b2a137ac186bba6a"},
    "botocore.auth.SigV4Auth.canonical_headers": {"d6880496840e75e7a60b8eeca39398104bac55f3"},
    "botocore.auth.SigV4Auth.headers_to_sign": {"b748d11abda1ff2b3c07992b9893bb60df182f75"},
    "botocore.auth.SigV4Auth.signed_headers": {"363803ff99d129cfdf68079a281280eefea5c3da"},
    "botocore.auth.SigV4Auth.payload": {"a723b3443e3cfb0d63687e16c1fdb39b5027bfc1"},
    "botocore.auth.SigV4Auth.canonical_query_string": {"b54a8e305f6ee6b10624cfa97da0104e2dcb5af0"},
    "botocore.auth.SigV4Auth._canonical_query_string_params": {
        "a1553800100fad9f9ef511568b07627c23839e0b"
    },
    "botocore.auth.SigV4Auth._canonical_query_string_url": {
        "30f2fb8ab000d80e4049d5e91fa4df5806902d0b"
    },
    "botocore.auth.SigV4Auth._normalize_url_path": {"d6335474e420f2f9cf5414092631fb755bcfb6e0"},
    "botocore.auth.SigV4Auth.string_to_sign": {"1d151c224c7aa31260c67c5a983311d8d912befa"},
    "botocore.auth.SigV4Auth.credential_scope": {"3147a32f24b7bccbbbe795bc2e510e4842fa3157"},
    "botocore.auth.SigV4Auth.scope": {"bdf66839a2220a4b0060b121e1e100b7e482488c"},
    "botocore.auth.SigV4Auth.signature": {"542b6beab215a6d0f3485231394e0bd05da50a85"},
    "botocore.auth.SigV4Auth._sign": {"bf7fe6714955d7cfe546d4768ad04b5d272ed016"},
    "botocore.auth._host_from_url": {"80f1f4aa5f49fd3f488298ce8265a212b9d826f6"},
    "botocore.auth.get_current_datetime": {"dacedf34c3559cc0c9155a307c7537d0dc62f8b2"},
    # _botocore/useragent.py, _CachingUserAgentString: to_string depends only on what
    # __init__/with_client_config fixed, _client_features and the context's feature ids
    "botocore.useragent.UserAgentString.__init__": {"00c812a0a4cc99a6b73a22cf401982d9ba988977"},
    "botocore.useragent.UserAgentString.to_string": {"9eba9b66963d3756b57504fb29b71bed1ce1496e"},
    "botocore.useragent.UserAgentString.with_client_config": {
        "9ce23a3b15adb2207e73438ff31802371b4afd69"
    },
    "botocore.useragent.register_feature_id": {"1198e124507a85b1a40276fd54cac42bf096edc9"},
    # _botocore/context.py, LeanClientContext: ClientContext's one field is a set of feature
    # ids; aiobotocore deep-copies the context in with_current_context
    "botocore.context.ClientContext": {"a70e47a514bb79086b82c57bbec60a9216f4da0b"},
    "botocore.context.get_context": {"7e08efb7ab1f255348ae8317904ee1041331bf0f"},
    "botocore.context.set_context": {"054698a1063b4ea00f49064328179d75111a4c41"},
    "aiobotocore.context.with_current_context": {"6158e2fe82a48b56e4e5bf8e5828f2437e70d493"},
    # _botocore/parsers.py: parse_timestamp's fast path gives botocore's instants; the
    # compiled XML walk mirrors these methods (re-read _Compiler and the _SCALARS table)
    "botocore.utils.parse_timestamp": {"ef7c071d99f3ff7c42270150e4d73f82ebe0548d"},
    "botocore.parsers.ResponseParserFactory": {"fa73fd61e279ed7df6465453c37f656e9a8c4069"},
    "aiobotocore.parsers.AioResponseParserFactory": {"7b21d64156e97e26a5ed3ae606fa4691fbcba464"},
    "botocore.parsers.BaseXMLResponseParser._handle_structure": {
        "3d014e8520fb60c295c144605bc6ed73543dca80"
    },
    "botocore.parsers.BaseXMLResponseParser._node_tag": {
        "f297200130b3ae9840c10f49e2af2c12e747653f"
    },
    "botocore.parsers.BaseXMLResponseParser._build_name_to_xml_node": {
        "85fcecd0325cc0a36d98d403c846d8bd51ca3d0d"
    },
    "botocore.parsers.BaseXMLResponseParser._handle_list": {
        "41af7f1287f3675414661eb2c3b435e6ed16bb5a"
    },
    "botocore.parsers.BaseXMLResponseParser._handle_map": {
        "b58315042792eff4e75cf2028d5a7611e60dfd24"
    },
    "botocore.parsers.BaseXMLResponseParser._member_key_name": {
        "ab69f405e2ed0cf586899c4357a314c68bc4bf30"
    },
    "botocore.parsers.BaseRestParser._handle_list": {"5d63129d8ea66ba504520256785234ec442a1380"},
    "botocore.parsers.ResponseParser._handle_list": {"c753550ed59af2769ce7e9d7d94e1933549e0efd"},
    "botocore.parsers.ResponseParser._parse_shape": {"cca7d28735556790553c8f5be68d47ab55eb1ad8"},
    "botocore.parsers._text_content": {"73bc4adc70dda66e2cb09e869d4d39fb663573bd"},
    "botocore.parsers.BaseXMLResponseParser._handle_string": {
        "10b92b7bcf4ed2b68523216edd219b16d7ad426e"
    },
    "botocore.parsers.RestXMLParser._handle_string": {"a983dd43a0d6e5dfd8dee8eeddeb30e900c6d682"},
    "botocore.parsers.BaseRestParser._handle_string": {"be817995396feca0a94a889f8af31bee15863ba3"},
    "botocore.parsers.BaseXMLResponseParser._handle_integer": {
        "e8f517559cc1ef9fb3c1420cf3186cd65a4697ab"
    },
    "botocore.parsers.BaseXMLResponseParser._handle_float": {
        "4d31ed24447fb06793e744ef9f8591f135ab287b"
    },
    "botocore.parsers.BaseXMLResponseParser._handle_boolean": {
        "5c8151a13d6045fa500c796d4b583a8c6dc24a09"
    },
    "botocore.parsers.BaseXMLResponseParser._handle_timestamp": {
        "1c0aec143f4e1524f0481e8d5c2ddb1034eb38f1"
    },
    "botocore.parsers.BaseXMLResponseParser._handle_blob": {
        "9fc59a32d8e869c320ca609395f5614675aea439"
    },
    # _botocore/regions.py -> _endpoints.py: the regions of a service in a partition
    "botocore.regions.EndpointResolver.__init__": {"88df117edffd35746f8fffb777cbb9966191914e"},
    "botocore.regions.EndpointResolver.get_available_endpoints": {
        "6ddbeb17580080ce47f8b1b6d62838b62f996139"
    },
    # client (pool: _clients.py BoundEvents/rebinding, _make_api_call override): the emitter
    # copy, the signer handler registered in _register_handlers, the retry handler's unique id
    "aiobotocore.client.AioBaseClient._make_api_call": {"7894d4f8a07f5c3d212090680919e0900f49fa03"},
    "aiobotocore.client.AioClientCreator._register_retries": {
        "deeeccdea01bede5a9012b24e2dc80f5836220f1"
    },
    "botocore.client.BaseClient._register_handlers": {"4e57e7a7166b95fff90f9746bcfb2da934604155"},
    # _botocore/client.py, SharedMethods: the client classes of one service share the
    # methods of the first (re-read: do the methods still only call _make_api_call with
    # their operation's name; is creating-client-class still emitted with the attributes
    # before the class is made?)
    "aiobotocore.client.AioClientCreator._create_client_class": {
        "84b2761632aa68aaa9d5bc8bf97437a3a8346f60"
    },
    "botocore.client.ClientCreator._create_methods": {"8a6ca1be450099eacef47357cc60ada8c679dec6"},
    "botocore.client.ClientCreator._create_api_method": {
        "2927ecaca8e4b0f0a1d5bfa028f7567ecebe4270"
    },
    "botocore.client.ClientMeta.config": {"8c66416a8a1f5ae192ed569a5b3ce3ccf8571386"},
    "botocore.hooks.HierarchicalEmitter.__init__": {"73e899167fa85153fbc3a047f1ca323fff0d4464"},
    "botocore.hooks._PrefixTrie.__init__": {"121371f754400ab6462825733ca91226ffbab9e8"},
    "botocore.hooks._PrefixTrie.prefix_search": {"8f73543293be345f838d235acdeb2e25353951c5"},
    "botocore.hooks.NodeList": {"ced41a33e9093e7a935cefbdd2fa4cffbeb8107a"},
    "botocore.session.Session._get_internal_component": {
        "3a3c3a4c044bbcd979487b19f2418d6fc4394971"
    },
    # credentials (pool): the refresh window (_advisory/_mandatory_refresh_timeout read by
    # refresh_needed and _protected_refresh), the role ARN of a failed refresh, the UTC clock,
    # credential_process run through _popen
    "botocore.credentials.RefreshableCredentials.refresh_needed": {
        "ed8a9c1d4f65767fb89cae8d3a34edf73a1b679b"
    },
    "aiobotocore.credentials.AioRefreshableCredentials._protected_refresh": {
        "ab8769043fe8193bbba38ae5f936b44f2d97e886"
    },
    "aiobotocore.credentials.AioDeferredRefreshableCredentials.__init__": {
        "80d6e197456459a983b9455a2320b74922f876b0"
    },
    "aiobotocore.credentials.AioAssumeRoleCredentialFetcher": {
        "395a4302679f601c91908ca7c3fbe14e79e90910"
    },
    "aiobotocore.credentials.AioProcessProvider._retrieve_credentials_using": {
        "e2e89ad5e385201214747f9776d12b03c7ec42ed"
    },
    # resources (pool: SessionPool.resource builds boto3's ServiceContext itself)
    "boto3.utils.ServiceContext": {"ab8c96d571760d7d9cc5b168afb04e61c9d2e0d1"},
    "boto3.utils.LazyLoadedWaiterModel": {"f9a350eccf0218c1d175bfe61e791583b4367089"},
    # paginate (retry: _paginate.py's _RetryingPageIterator and resumable tokens)
    "aiobotocore.paginate.AioPageIterator.__anext__": {"abdb7630a927afb6511218ff04ea437985542e82"},
    "aiobotocore.paginate.AioPageIterator._make_request": {
        "6a136f1cff40eb89644c45b7cfa35fa340fe6c14"
    },
    "botocore.paginate.PageIterator.__init__": {"2b6eea9ddd3f8c449af9677c198be4a608f10626"},
    "botocore.paginate.PageIterator._parse_starting_token": {
        "978496fccc1c3fc3be5d114dbee7a2b88b562669"
    },
    "botocore.paginate.PageIterator._get_next_token": {"56fe9b7b93dfa3e789b6ed7eb955ea70297b493d"},
    "botocore.paginate.TokenEncoder": {"6aa19c0bcc4d5cee496893d668a6ba44a412a412"},
    # Paginator.full_result (_botocore/paginate.py merge_page): mirrors build_full_result
    "aiobotocore.paginate.AioPageIterator.build_full_result": {
        "e7fe791ffd1c76e43fa0929e6c86fedac84408c5"
    },
    "botocore.paginate.PageIterator.non_aggregate_part": {
        "167c042a53f83a986247db808220402a158f9906"
    },
    "botocore.paginate.TokenDecoder": {"d7c9a8b292a388c7a4ac1b3f744d331dfad6df7a"},
    "aiobotocore.client.AioBaseClient.get_paginator": {"59284dc592ced521532f77ef08799476c6b5e868"},
    # waiter (retry: _waiters.py reads the client's waiter config and drives WaiterModel)
    "aiobotocore.client.AioBaseClient._get_waiter_config": {
        "5f38e9ceba6c3f8d88dd0ecc895bc56992b38eb3"
    },
    "botocore.waiter.WaiterModel": {"cc71f07d4ad98c6504c30f8b8ae59b152a955c4f"},
    "botocore.waiter.SingleWaiterConfig": {"3d4396bd4cf85b00ef7a24d6d6c1195c7ed36f2b"},
    "botocore.waiter.is_valid_waiter_error": {"9b9018c40989ac8b3c66f993b2f634ec1dc4fcc6"},
    # retries / errors (retry: the transient and throttling code tables, the cubic limiter)
    "botocore.retries.standard.TransientRetryableChecker": {
        "7ab875802fac4f58b43d8ba7130b14ccb52a0b76"
    },
    "botocore.retries.standard.ThrottledRetryableChecker": {
        "27bc0eff3441b14d6c990312a1714bbd8482ffb6"
    },
    "botocore.retries.throttling.CubicCalculator": {"cc0c63c38ee281a8b9e2f312ca3f51495e925edc"},
    # folded from pins-pool.txt (the pool's seam functions in _botocore/credentials, session,
    # client, resources, hooks, config): refresh windows (set_refresh_windows), the signer's
    # guard credentials (guard_client_credentials), a failed role hop's ARN (role_arn_of),
    # credential_process's _popen (kill_cancelled_credential_process)
    "botocore.credentials.RefreshableCredentials": {"ab660c99fb88ae8df2561dc8aa9a717344850968"},
    "botocore.credentials.AssumeRoleCredentialFetcher.__init__": {
        "669aa490a11d113a1506ecea49c35ec8d2e43a23"
    },
    "aiobotocore.credentials.AioCredentials": {"9e10bd0a9dfbb5cdee2bd409d957ae9ccdf2c389"},
    "aiobotocore.credentials.AioProcessProvider.__init__": {
        "44f70adb8f3f4b491601d06773996f6c29915a5d"
    },
    "botocore.signers.RequestSigner.__init__": {"56ec9db80dab0cabd77b0abec011155b5d3e8c38"},
    "botocore.signers.RequestSigner.handler": {"371909df136a0964ef7469a63d25149176c2b442"},
    # the pool's sessions and clients (botocore_session, pool_session, open_client, wire_client,
    # copy_client, use_emitter, set_signing_identity, own_config)
    "aioboto3.session.Session.__init__": {"0c8cf6319b5d6dfac7341968f0e2870f3d0c132f"},
    "aioboto3.session.Session.client": {"251a5985f34c53dd7e4d9f8cd5a6d73f3eebccfa"},
    "botocore.loaders.Loader.search_paths": {"cdc5bb866035459fa0b14988141725d301012fe3"},
    "botocore.client.BaseClient.__init__": {"2a4919bd9e452610fa52e8e765e3ab6bb915f20b"},
    "botocore.client.ClientMeta.__init__": {"dfca6941dcc47451198af69d0b6556496da387cc"},
    "botocore.endpoint.Endpoint.__init__": {"4bafe9733a02817950f5096612410ec4ebc40f55"},
    "botocore.regions.EndpointRulesetResolver.__init__": {
        "184abbf81da4c93a8698a31df6ff1af38237dd46"
    },
    # resources (make_resource, load_resource_model)
    "aioboto3.resources.factory.AIOBoto3ResourceFactory.load_from_definition": {
        "481089549787b4d9898607e36e3c7d63a6d0c7ad"
    },
    # folded from pins-retry.txt (_botocore/paginate, model, validate, utils, errors)
    "aiobotocore.paginate.AioPaginator": {"68edf4c128ea56ff158ed791f7245448b1bac071"},
    "botocore.paginate.Paginator.__init__": {"9d76e1adc6b7a146d4095a2feb6fc6a000f0d43b"},
    "botocore.client.BaseClient.can_paginate": {"899e1ac809698e2d3181504e57faff4898c87ad6"},
    "botocore.model.ServiceModel.__init__": {"45db50348cbdcb631dfb3a74780c0804a90a668b"},
    "botocore.validate.validate_parameters": {"7d7896e9fec8edd589a9a1dc879138b9ef0d71c2"},
    "botocore.utils.is_valid_endpoint_url": {"ef8800434dc473ee11c565ce3b7324e709d4c489"},
    "botocore.utils.is_valid_ipv6_endpoint_url": {"efc70a880187401317de2d5bfb97d8e9d26412b9"},
    "botocore.parsers.ResponseParserError": {"921ca683f5fe948963b39c5eeb0eea62e37175f9"},
    # _botocore/parsers.py: the compiled JSON walk mirrors these (re-read _JSONCompiler)
    "botocore.parsers.BaseJSONParser._handle_structure": {
        "8c1bf423874b13c55ea6439d919626e9aee4a33c"
    },
    "botocore.parsers.BaseJSONParser._handle_map": {"fcdf3d4fdb825d0bb7e3d4ec919eaa8e2fec7ebc"},
    "botocore.parsers.BaseJSONParser._handle_blob": {"e96c77a407d6cd91f307c1fadc46f5604f7b7e68"},
    "botocore.parsers.BaseJSONParser._handle_timestamp": {
        "a912b1c86e315c916f061d1ec80b054986bdde9c"
    },
    "botocore.parsers.ResponseParser._default_handle": {"c6939413325f4eea7efd7175cf5b2e813cdd6a08"},
    "botocore.parsers.JSONParser._handle_json_body": {"5db584de787c39e7b83298ec9e9c73c13bc0a83d"},
    "botocore.parsers.BaseRestParser._parse_payload": {"629c28fddfeeeb6cffea6cc3c6650688887c7341"},
}


def _upstream(path: str) -> Any:
    """The object at a dotted path: the longest importable module prefix, then attributes."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)
        return obj
    raise ImportError(path)


def _digest(obj: Any) -> str:
    if isinstance(obj, property):
        obj = obj.fget
    return hashlib.sha1(_handler_source(obj).encode()).hexdigest()


@pytest.mark.parametrize("path", sorted(UPSTREAM_DIGESTS))
def test_upstream_source_is_what_aiokit_was_checked_against(path: str) -> None:
    digest = _digest(_upstream(path))
    assert digest in UPSTREAM_DIGESTS[path], (
        f"{path} changed upstream (sha1 {digest}): re-read the aiokit code named above its "
        "entry in UPSTREAM_DIGESTS, then add the digest (see 'How to update these')"
    )


def test_signer_honours_per_request_credentials() -> None:
    source = inspect.getsource(AioRequestSigner.sign)
    assert "request_credentials" in source
    params = inspect.signature(AioRequestSigner.get_auth_instance).parameters
    assert "request_credentials" in params


def test_make_api_call_signature_and_before_call_context() -> None:
    assert list(inspect.signature(AioBaseClient._make_api_call).parameters) == [
        "self",
        "operation_name",
        "api_params",
    ]
    assert "before-call" in inspect.getsource(AioBaseClient._make_api_call)


def test_http_session_connector_hook_is_where_we_expect() -> None:
    params = list(inspect.signature(AIOHTTPSession._create_connector).parameters)
    assert params == ["self", "proxy_url"]
    session = SharedSSLHTTPSession(max_pool_connections=7)
    for name in ("_cert_file", "_verify", "_max_pool_connections", "_connector_args"):
        assert hasattr(session, name), name


async def test_shared_session_reuses_one_ssl_context() -> None:
    a = SharedSSLHTTPSession(max_pool_connections=3)._create_connector(None)
    b = SharedSSLHTTPSession(max_pool_connections=3)._create_connector(None)
    try:
        assert isinstance(a, aiohttp.TCPConnector)
        assert a._ssl is b._ssl
        assert a.limit == 3
    finally:
        await a.close()
        await b.close()


async def test_shared_session_connector_keeps_the_configs_connector_args() -> None:
    """The shared-SSL connector is built with the config's ``connector_args``, as
    aiobotocore's own would be (``AioConfig(connector_args=...)`` is a promise)."""
    session = SharedSSLHTTPSession(connector_args={"force_close": True, "keepalive_timeout": None})
    connector = session._create_connector(None)
    try:
        assert connector.force_close is True
    finally:
        await connector.close()


def test_merge_config_keeps_session_class_and_connector_args() -> None:
    base = AioConfig(connector_args={"keepalive_timeout": 3}, http_session_cls=SharedSSLHTTPSession)
    merged = merge_config(base, AioConfig(read_timeout=7, connector_args={"ttl_dns_cache": 5}))
    assert merged.http_session_cls is SharedSSLHTTPSession
    assert merged.connector_args == {"keepalive_timeout": 3, "ttl_dns_cache": 5}
    assert merged.read_timeout == 7
    assert "_user_provided_options" in vars(merged)


async def test_clients_of_different_configs_are_different_clients(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """``config_key`` tells configs apart by botocore's ``_user_provided_options``: a client
    asked for with a config of its own gets that config, not the pool's default client."""
    plain = await aiokit_pool.client("sqs")
    slow = await aiokit_pool.client("sqs", config=AioConfig(read_timeout=123))
    assert slow.meta.config.read_timeout == 123
    assert plain.meta.config.read_timeout != 123


async def test_no_model_or_ca_file_is_read_on_the_event_loop(moto_endpoint: str) -> None:
    """Model JSON, endpoint data and the CA bundle load in worker threads only."""
    shared_ssl_context.cache_clear()
    loop_thread = threading.get_ident()
    opened_on_loop: list[str] = []
    active = True

    def hook(event: str, args: Any) -> None:
        if active and event == "open" and threading.get_ident() == loop_thread:
            path = str(args[0])
            if path.endswith((".json", ".json.gz", ".pem", ".crt")):
                opened_on_loop.append(path)

    sys.addaudithook(hook)
    try:
        async with aiokit.SessionPool(endpoint_url=moto_endpoint, region="eu-west-1") as pool:
            # Services this process may not have loaded yet, and a resource model.
            for service in ("cloudtrail", "kinesis", "sns"):
                await pool.client(service)
            await (await pool.client("sns")).list_topics()
            await pool.resource("sqs")
    finally:
        active = False  # audit hooks cannot be removed; this one goes quiet
    assert opened_on_loop == []


def _timestamp_cases() -> list[str]:
    """ISO 8601 strings in the shapes AWS sends, and shapes the fast path must hand back."""
    rng = random.Random(7)
    cases = []
    for _ in range(400):
        moment = datetime.datetime(2000, 1, 1) + datetime.timedelta(
            seconds=rng.randrange(0, 40 * 365 * 86400), microseconds=rng.randrange(10**6)
        )
        text = moment.strftime("%Y-%m-%dT%H:%M:%S")
        digits = rng.choice([0, 1, 3, 6, 7, 9])
        if digits:
            text += "." + f"{moment.microsecond:06d}{rng.randrange(1000):03d}"[:digits]
        zone = rng.choice(["Z", "", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00"])
        cases.append(text + zone)
    return [
        *cases,
        "2024-02-29T23:59:59.999Z",
        "2024-02-30T10:20:30Z",  # no such day
        "2024-01-15T24:00:00Z",  # no such hour
        "2024-01-15T10:20:60Z",
        "2024-01-15 10:20:30Z",  # space, not T: dateutil's business
        "20240115T102030Z",
        "1700000000",
        "1700000000.5",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "not a date",
    ]


def _parsed(parse: Any, value: Any) -> Any:
    try:
        moment = parse(value)
    except ValueError:
        return ValueError
    return (moment, moment.utcoffset())


def test_parse_timestamp_gives_botocores_instants() -> None:
    for value in [*_timestamp_cases(), 1700000000, 1700000000.25]:
        assert _parsed(parse_timestamp, value) == _parsed(botocore_parse_timestamp, value), value
    utc = parse_timestamp("2024-01-15T10:20:30.5Z")
    assert utc == datetime.datetime(2024, 1, 15, 10, 20, 30, 500000, tzinfo=datetime.UTC)
    assert isinstance(utc.tzinfo, tzutc)
    assert parse_timestamp("2024-01-15T10:20:30").tzinfo is None


def test_parser_factory_hands_its_timestamp_parser_to_every_parser() -> None:
    assert issubclass(AioResponseParserFactory, ResponseParserFactory)
    factory = AioResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)
    parser = factory.create_parser("query")
    assert isinstance(parser, QueryParser)
    assert parser._timestamp_parser is parse_timestamp
    assert "response_parser_factory" in inspect.getsource(AioSession._create_client)


async def test_pool_clients_parse_timestamps_as_botocore_does(
    moto_endpoint: str, plain_client: PlainClient
) -> None:
    """The same S3 listing through a pool client and a plain aiobotocore client."""
    async with aiokit.SessionPool(
        endpoint_url=moto_endpoint, region="us-east-1", credentials=TEST_CREDENTIALS
    ) as pool:
        s3 = await pool.client("s3")
        await s3.create_bucket(Bucket="stamps")
        for key in ("a", "b", "c"):
            await s3.put_object(Bucket="stamps", Key=key, Body=b"x")
        ours = (await s3.list_objects_v2(Bucket="stamps"))["Contents"]
    async with plain_client("s3") as plain:
        theirs = (await plain.list_objects_v2(Bucket="stamps"))["Contents"]
    assert [o["LastModified"] for o in ours] == [o["LastModified"] for o in theirs]
    assert all(isinstance(o["LastModified"], datetime.datetime) for o in ours)
    assert all(isinstance(o["LastModified"].tzinfo, tzutc) for o in ours)


async def test_user_agent_cache_keeps_each_requests_features(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """Cached User-Agent strings are the ones botocore builds, feature ids included."""
    s3 = await aiokit_pool.client("s3")
    creator = s3._user_agent_creator
    assert type(creator).__mro__[1] is UserAgentString  # the cache is installed
    sent: list[tuple[str, str]] = []

    def capture(request: Any, **_: Any) -> None:
        # Still inside the request's context: botocore's own, uncached, string for it.
        header = request.headers["User-Agent"]
        sent.append((header.decode(), UserAgentString.to_string(creator)))

    s3.meta.events.register("before-send.s3", capture)
    try:
        await s3.create_bucket(Bucket="agents")
        for _ in range(2):
            await s3.list_objects_v2(Bucket="agents")
            # A paginator's requests carry its feature id, as botocore's own paginator's do.
            pager = aiokit_pool.paginate("s3", "list_objects_v2", Bucket="agents")
            pages = [p async for p in pager]
            assert len(pages) == 1
    finally:
        s3.meta.events.unregister("before-send.s3", capture)
    assert len(sent) == 5
    for header, uncached in sent:
        assert header == uncached
    plain, paginated = sent[1][0], sent[2][0]
    assert plain != paginated  # the paginator's feature id is in one only
    assert [h for h, _ in sent[1:]] == [plain, paginated, plain, paginated]


async def test_user_agent_cache_follows_the_clients_own_features(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """The client's own feature ids (``_client_features``: the set of the context the client
    was made in, which later registrations there still grow) are part of the cache key."""
    s3 = await aiokit_pool.client("s3")
    creator = s3._user_agent_creator
    if creator._client_features is None:
        creator.set_client_features(set())
    features = creator._client_features
    before = creator.to_string()
    features.add("aiokit-pin")
    try:
        after = creator.to_string()
        uncached = UserAgentString.to_string(creator)  # botocore's own, for the same state
    finally:
        features.discard("aiokit-pin")
    assert after == uncached != before
    assert creator.to_string() == before


async def test_lean_client_context_keeps_each_requests_features(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """In a task on a ``LeanClientContext`` (as fan-out workers are), requests report the
    same feature ids as on botocore's own, and none leaks from one request to the next."""
    assert [f.name for f in dataclasses.fields(ClientContext)] == ["features"]
    s3 = await aiokit_pool.client("s3")
    await s3.create_bucket(Bucket="lean-context")
    sent: list[str] = []

    def capture(request: Any, **_: Any) -> None:
        sent.append(request.headers["User-Agent"].decode())

    async def calls() -> None:
        for _ in range(2):
            await s3.list_objects_v2(Bucket="lean-context")
            pager = aiokit_pool.paginate("s3", "list_objects_v2", Bucket="lean-context")
            assert len([p async for p in pager]) == 1

    async def on_lean_context() -> None:
        use_lean_client_context()
        assert type(get_context()) is LeanClientContext
        await calls()
        assert get_context().features == set()  # the task's own context stays empty

    s3.meta.events.register("before-send.s3", capture)
    try:
        await calls()
        async with anyio.create_task_group() as tg:
            tg.start_soon(on_lean_context)
    finally:
        s3.meta.events.unregister("before-send.s3", capture)
    assert get_context() is None or type(get_context()) is ClientContext  # not this task's
    assert len(sent) == 8
    assert sent[4:] == sent[:4]
    assert sent[0] != sent[1]  # the paginator's feature id is in one only


def _handler_source(method: Any) -> str:
    """The source of a botocore parser method; for a ``_text_content``-decorated scalar
    handler, the source of the handler it wraps (the decorator is pinned on its own)."""
    code = getattr(method, "__code__", None)  # classes have none
    if code is not None and code.co_name == "_get_text_content":
        (cell,) = method.__closure__
        method = cell.cell_contents
    return inspect.getsource(method)


def test_xml_parsing_is_the_code_aiokit_mirrors() -> None:
    """``aiokit/_botocore/parsers.py`` compiles botocore's XML walk (structures, lists, maps,
    scalars) into per-shape functions; if upstream changes any method mirrored there, the
    mirror must be reviewed (and its digest here updated)."""
    import hashlib

    from botocore import parsers

    xml = parsers.BaseXMLResponseParser
    for method, digest in (
        (xml._handle_structure, "b04ff87ceaf2c61a"),
        (xml._node_tag, "4b3f21d4cbc87aa8"),
        (xml._build_name_to_xml_node, "42c251a94a0c9ef2"),
        (xml._handle_list, "41ac489ed3db1561"),
        (parsers.BaseRestParser._handle_list, "3ee61b25a7e1f4fc"),
        (parsers.ResponseParser._handle_list, "33b3d475e3ad7683"),
        (parsers.ResponseParser._parse_shape, "448f05949c380e13"),
        (xml._handle_map, "7dbf5012e2928ee4"),
        (parsers._text_content, "1da47439c0441d31"),
        (xml._handle_string, "f4dcbcaf01e649d6"),
        (parsers.RestXMLParser._handle_string, "8dca2cf594bcfe50"),
        (parsers.BaseRestParser._handle_string, "3917c02c2c12b007"),
        (xml._handle_integer, "5fd523fa3bbcf611"),
        (xml._handle_float, "857343da735593b9"),
        (xml._handle_boolean, "459a4ce940092c84"),
        (xml._handle_timestamp, "4255955bf4afd963"),
        (xml._handle_blob, "e2f22cecfb3da1aa"),
    ):
        source = _handler_source(method)
        assert hashlib.sha256(source.encode()).hexdigest()[:16] == digest, method
    # The aliases the compiled walk relies on.
    assert xml._handle_long is xml._handle_integer
    assert xml._handle_double is xml._handle_float
    assert xml._handle_character is xml._handle_string


def test_aiokit_xml_parsers_use_the_handlers_aiokit_compiles() -> None:
    """Each aiokit XML parser class resolves every type's handler to the botocore function
    ``aiokit/_botocore/parsers.py`` mirrors (anything else would silently take the slow path)."""
    from botocore import parsers

    from aiokit._botocore.parsers import _LIST_HANDLERS, _MAP_HANDLERS, _SCALARS, ParserFactory

    for protocol in ("query", "ec2", "rest-xml"):
        parser_class = type(ParserFactory().create_parser(protocol))
        assert parser_class._handle_list in _LIST_HANDLERS
        assert parser_class._handle_map in _MAP_HANDLERS
        for type_name, (_, handlers) in _SCALARS.items():
            assert getattr(parser_class, f"_handle_{type_name}") in handlers, type_name
        expected_string = (
            parsers.RestXMLParser._handle_string
            if protocol == "rest-xml"
            else parsers.BaseXMLResponseParser._handle_string
        )
        assert parser_class._handle_string is expected_string


async def test_paginator_config_and_credential_clock_are_where_aiokit_reads_them(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    """``_paginate`` builds botocore's paginator from ``client._cache['page_config']``
    (filled by ``can_paginate``); ``_pool`` hands role credentials a UTC clock."""
    from aiobotocore.credentials import AioDeferredRefreshableCredentials

    s3 = await aiokit_pool.client("s3")
    assert s3.can_paginate("list_objects_v2")
    assert "ListObjectsV2" in s3._cache["page_config"]
    assert s3._PY_TO_OP_NAME["list_objects_v2"] == "ListObjectsV2"
    params = inspect.signature(AioDeferredRefreshableCredentials.__init__).parameters
    assert "time_fetcher" in params


async def test_shared_retry_pools_drop_botocores_one_attempt_retry_handler(
    plain_client: PlainClient, aiokit_pool: aiokit.SessionPool
) -> None:
    """botocore registers its retry handler under the id aiokit unregisters it by; pool
    clients in the default (shared) retry mode have none, aiokit's limiter retries."""
    async with plain_client("sqs") as plain:
        assert "retry-config-sqs" in plain.meta.events._emitter._unique_id_handlers
    sqs = await aiokit_pool.client("sqs")
    assert "retry-config-sqs" not in sqs.meta.events._emitter._unique_id_handlers
    assert (await sqs.list_queues())["ResponseMetadata"]["HTTPStatusCode"] == 200


async def test_client_parts_that_emit_events_are_where_bound_events_rewire_them(
    aiokit_pool: aiokit.SessionPool,
) -> None:
    # BoundEvents (aiokit/_clients.py) copies the emitter on the first change and points
    # the client's endpoint, endpoint resolver and signer at the copy; the signing handler
    # is found in botocore's prefix trie and replaced in place.
    from botocore.client import ClientMeta
    from botocore.hooks import NodeList, _PrefixTrie

    ddb = await aiokit_pool.client("dynamodb")
    raw = ddb._aiokit.raw.client
    assert "events" in vars(raw.meta) and "_client_config" in vars(raw.meta)
    assert inspect.getsource(ClientMeta.config.fget).strip().endswith("return self._client_config")
    for part in (raw._endpoint, raw._ruleset_resolver, raw._request_signer):
        assert hasattr(part, "_event_emitter"), type(part)
    assert "self._request_signer.handler" in inspect.getsource(
        type(raw).__mro__[-2]._register_handlers
    )
    emitter = raw.meta.events._emitter
    assert isinstance(emitter._handlers, _PrefixTrie)
    assert set(emitter._handlers._root) == {"chunk", "children", "values"}
    assert NodeList._fields == ("first", "middle", "last")
    assert "_lookup_cache" in vars(emitter)
    # Rewired: a handler on the bound client's copy sees requests the endpoint emits.
    seen: list[str] = []
    ddb.meta.events.register("before-send.dynamodb", lambda **_: seen.append("sent"))
    assert ddb._endpoint is not raw._endpoint
    assert ddb._endpoint.http_session is raw._endpoint.http_session  # connections shared
    assert ddb._request_signer.handler in emitter_handlers(
        ddb.meta.events, "request-created.dynamodb.X"
    )
    assert raw._request_signer.handler not in emitter_handlers(
        ddb.meta.events, "request-created.dynamodb.X"
    )
    await ddb.list_tables()
    assert seen == ["sent"]


def emitter_handlers(events: Any, name: str) -> list[Any]:
    return list(events._emitter._handlers.prefix_search(name))


def test_credential_providers_make_their_clients_through_the_session() -> None:
    # EndpointSession (aiokit/_botocore/session.py) gives those clients the pool's endpoint_url.
    from aiobotocore import credentials as aio_credentials

    params = list(inspect.signature(AioSession.create_client).parameters)
    assert params[:2] == ["self", "args"]  # create_client(*args, **kwargs)
    inner = list(inspect.signature(AioSession._create_client).parameters)
    assert inner.index("endpoint_url") == 6  # after self: the sixth positional
    assert "create_nested_client" in inspect.getsource(aio_credentials._get_client_creator)
    from aiobotocore.utils import create_nested_client

    assert "session.create_client(" in inspect.getsource(create_nested_client)
