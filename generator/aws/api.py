"""boto3 sessions and clients the way every hipaa-catalog command talks to AWS.

- Standard settings only: ``AWS_PROFILE``, ``AWS_REGION`` (or ``AWS_DEFAULT_REGION``) and
  ``AWS_ENDPOINT_URL`` (the local AWS endpoint in tests and demos).
- Throttling and 5xx answers are retried by botocore's ``standard`` retry mode (``adaptive`` if
  ``AWS_RETRY_MODE=adaptive``) with a bounded number of attempts (``AWS_MAX_ATTEMPTS``, default 8).
- :func:`call` makes one call; botocore's errors become ``AwsCallError``s naming the action, the
  resource and AWS's error code (:func:`translate`); :func:`pages` reads a whole listing, through
  botocore's paginator where the service model has one, else by its page token.
- :func:`backoff` gives the delays of every polling loop; :func:`new_stack_events` and :func:`event_line`
  are how every wait on a stack shows its progress.
- A client is made once and shared by every caller asking for the same one: making one costs tens of
  milliseconds.  A caller that asks for it with ``progress`` or a :class:`CallRecorder` gets it seen
  through them (:class:`Observed`): ``progress`` reports each retry of a call that could not reach the
  endpoint, so an unreachable endpoint is never silent while botocore retries it; the recorder counts the
  API calls made, read or write (the tests and the benchmark assert on it).

Every AWS call of publish, deploy and the developers' commands goes through this module.

boto3 sessions are not thread-safe: create one :func:`session` per thread.
"""

from __future__ import annotations

import functools
import os
import re
import threading
from collections import Counter, OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import boto3
import botocore.exceptions as bexc
import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.loaders import create_loader

from generator.errors import AwsCallError, AwsError

DEFAULT_MAX_ATTEMPTS = 8
CONNECT_TIMEOUT = 5   # seconds per connection attempt; botocore's default is 60
RETRY_MODES = ("standard", "adaptive")

# Operations whose name starts with one of these only read; every other operation writes.
READ_PREFIXES = ("List", "Describe", "Get", "Head", "Search", "Scan", "Query", "Lookup", "Select",
                 "Validate", "Estimate", "Preview", "BatchGet")
# Error codes meaning the caller is not allowed to do the action.
ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "UnauthorizedException",
                 "AuthorizationError", "Forbidden", "403"}
BAD_CREDENTIALS = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                   "ExpiredToken", "ExpiredTokenException", "InvalidAccessKeyId", "RequestExpired"}


def is_write(operation: str) -> bool:
    """True if an API operation (e.g. ``CreateProduct``) changes something."""
    return not operation.startswith(READ_PREFIXES)


def endpoint_url() -> str | None:
    """The endpoint every service is sent to (``AWS_ENDPOINT_URL``), or None for real AWS."""
    return os.environ.get("AWS_ENDPOINT_URL") or None


def default_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def retry_config() -> dict:
    mode = os.environ.get("AWS_RETRY_MODE", "standard")
    if mode not in RETRY_MODES:
        mode = "standard"
    try:
        attempts = int(os.environ.get("AWS_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS))
    except ValueError:
        attempts = DEFAULT_MAX_ATTEMPTS
    return {"mode": mode, "max_attempts": max(1, min(attempts, 20))}


_LOADER_LOCK = threading.Lock()
_LOADER = None


def _shared_loader():
    """One botocore data loader for every session: service models are parsed once per process."""
    global _LOADER
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = create_loader()
        return _LOADER


def boto3_session(**kwargs: Any) -> boto3.Session:
    """``boto3.Session(**kwargs)`` reading service models through the process's one data loader."""
    core = botocore.session.Session()
    loader = _shared_loader()
    core.register_component("data_loader", loader)
    sess = boto3.Session(botocore_session=core, **kwargs)
    with _LOADER_LOCK:   # each boto3.Session appends its data folder to the loader's search path
        paths = loader.search_paths
        paths[:] = list(dict.fromkeys(paths))
    return sess


_THREAD = threading.local()


def session(region: str | None = None, profile: str | None = None) -> boto3.Session:
    """This thread's boto3 session for ``region`` (default: AWS_REGION) and ``profile`` (default: AWS_PROFILE).

    "Session objects are not thread safe and should not be shared across threads and processes. It's
    recommended to create a new Session object for each thread or process" (*Multithreading or
    multiprocessing with sessions*, Boto3 documentation,
    https://boto3.amazonaws.com/v1/documentation/api/latest/guide/session.html): so each thread keeps its
    own, made on its first call, and a forked process makes new ones (the key holds the process id).
    Making one costs milliseconds of CPU (botocore registers its event handlers), and one thread asks for
    the same one again and again (every command run in one process, as the tests do).  The key also holds
    the AWS_* settings of the environment as they are when it is asked for, so a changed profile,
    credential or endpoint gets a new session."""
    profile = profile or os.environ.get("AWS_PROFILE") or None
    region = region or default_region()
    key = (os.getpid(), profile, region, _aws_settings())
    kept = getattr(_THREAD, "sessions", None)
    if kept is None:
        kept = _THREAD.sessions = {}
    sess = kept.get(key)
    if sess is None:
        try:
            sess = boto3_session(profile_name=profile, region_name=region)
        except bexc.ProfileNotFound as exc:
            raise AwsError(f"AWS profile not found: {exc.kwargs.get('profile')}",
                           hint="set AWS_PROFILE to a profile in ~/.aws/config, or unset it") from exc
        if len(kept) >= 16:   # the settings of a long-lived thread change (the tests'); keep the recent ones
            kept.pop(next(iter(kept)))
        kept[key] = sess
    return sess


def assumed_session(sess: boto3.Session, role_arn: str, session_name: str, region: str,
                    recorder: "CallRecorder | None" = None) -> boto3.Session:
    """A session acting as ``role_arn`` (sts:AssumeRole from ``sess``), e.g. a role in a member account."""
    out = call(client(sess, "sts", region, recorder), "AssumeRole", f"role {role_arn}", RoleArn=role_arn,
               RoleSessionName=session_name)["Credentials"]
    return boto3_session(aws_access_key_id=out["AccessKeyId"], aws_secret_access_key=out["SecretAccessKey"],
                         aws_session_token=out["SessionToken"], region_name=region)


class _ClientCache:
    """The clients :func:`client` made, handed out again to every caller of this process asking for the same
    service, region and identity (at most ``size``; the least recently used goes first).

    Making a client costs tens of milliseconds of CPU (botocore builds its class from the service model and
    sets up its endpoint rules), and the commands ask for the same ones again and again (``doctor`` one per
    check, publish one per service and thread, every command run in one process, as the tests do).  "Unlike
    Resources and Sessions, clients **are** generally *thread-safe*", with two caveats that matter here: they
    "cannot be shared across processes", and those given custom botocore event hooks should "no longer" be
    considered thread-safe (*Multithreading or multiprocessing with clients*, Boto3 documentation,
    https://boto3.amazonaws.com/v1/documentation/api/latest/guide/clients.html).  So the key holds the process
    id (a forked lint worker never gets its parent's clients), and a client's hooks are registered once, by
    :func:`_new_client`, before anyone else sees it: what a caller observes is chosen per call and per thread
    (:class:`Observed`), never by registering more."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._clients: OrderedDict[tuple, Any] = OrderedDict()

    def get(self, key: tuple) -> Any:
        with self._lock:
            c = self._clients.get(key)
            if c is not None:
                self._clients.move_to_end(key)
            return c

    def put(self, key: tuple, c: Any) -> Any:
        with self._lock:
            self._clients[key] = c
            if len(self._clients) > self.size:
                self._clients.popitem(last=False)
        return c


_SHARED_CLIENTS = _ClientCache(size=64)


def _shared_client_key(sess: boto3.Session, service: str, region: str) -> tuple:
    """What a client depends on: the process, service, region, the session's profile and credentials (as they
    are now; a refreshed key pair is another identity), and the AWS_* settings of the environment (endpoint,
    retries, configuration files, CA bundle, …) as they are when it is asked for."""
    credentials = sess.get_credentials()
    identity = credentials.get_frozen_credentials() if credentials is not None else None
    return os.getpid(), service, region, sess.profile_name, identity, _aws_settings()


def _aws_settings() -> tuple:
    """The AWS_* variables of the environment as they are now (endpoint, profile, credentials, retries,
    configuration files, CA bundle, …)."""
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))


def client(sess: boto3.Session, service: str, region: str | None = None,
           recorder: "CallRecorder | None" = None, progress: Callable[[str], None] | None = None):
    """A client with bounded standard retries and the endpoint override, shared with the callers asking for
    the same one (:class:`_ClientCache`); with a ``recorder`` or a ``progress`` line, that client seen
    through them (:class:`Observed`): the recorder gets each call, ``progress`` a line for each retry of a
    call that could not reach the endpoint.

    Standard retry mode retries "transient errors" including socket and connection errors, with
    exponential backoff (*Retries*, Boto3 documentation,
    https://docs.aws.amazon.com/boto3/latest/guide/retries.html): against an endpoint that does not answer,
    the attempts take seconds to minutes, so each one is reported (``connect_timeout``, *Config
    Reference*, https://botocore.amazonaws.com/v1/documentation/api/latest/reference/config.html, bounds
    the wait of one attempt to connect)."""
    region = region or sess.region_name or default_region()
    if not region:
        raise AwsError("no AWS region set", hint="set AWS_REGION (for example us-east-1)")
    retries = retry_config()
    try:
        key = _shared_client_key(sess, service, region)
        shared = _SHARED_CLIENTS.get(key) or _SHARED_CLIENTS.put(key, _new_client(sess, service, region, retries))
    except bexc.ProfileNotFound as exc:
        raise AwsError(f"AWS profile not found: {exc.kwargs.get('profile')}",
                       hint="set AWS_PROFILE to a profile in ~/.aws/config, or unset it") from exc
    except bexc.BotoCoreError as exc:
        raise AwsError(f"cannot create an AWS {service} client in {region}: {exc}") from exc
    if recorder is None and progress is None:
        return shared
    return Observed(shared, recorder, progress)


def _new_client(sess: boto3.Session, service: str, region: str, retries: dict):
    """A new client whose event hooks tell the observers of the thread's current call (:class:`Observed`)."""
    extra = {}
    if service == "s3" and endpoint_url():
        extra["s3"] = {"addressing_style": "path"}  # a local endpoint has no per-bucket host names
    cfg = Config(retries=dict(retries), connect_timeout=CONNECT_TIMEOUT, read_timeout=60, **extra)
    c = sess.client(service, region_name=region, endpoint_url=endpoint_url(), config=cfg)
    # botocore emits before-call once per API call (before its retries) and after-call once it has the
    # answer; needs-retry after each attempt: an observer returns None, so botocore's retry handler decides
    c.meta.events.register("before-call.*.*", functools.partial(_recorded, region=region, answered=False))
    c.meta.events.register("after-call.*.*", functools.partial(_recorded, region=region, answered=True))
    c.meta.events.register("needs-retry.*.*", functools.partial(_needs_retry, limit=retries["max_attempts"]))
    return c


_OBSERVING = threading.local()   # .current: the Observed whose call this thread is making, if any


class Observed:
    """A shared client seen through a :class:`CallRecorder` and/or a ``progress`` line: its API methods and
    its paginators' pages are calls of the shared client during which this thread's hooks
    (:func:`_new_client`) tell them; everything else (``meta``, ``exceptions``, ``can_paginate``) is the
    client's own.  Its waiters are not observed: nothing here waits through one."""

    def __init__(self, c, recorder: "CallRecorder | None", progress: Callable[[str], None] | None) -> None:
        self.client, self.recorder, self.progress = c, recorder, progress

    @contextmanager
    def observing(self) -> Iterator[None]:
        outer = _current()
        _OBSERVING.current = self
        try:
            yield
        finally:
            _OBSERVING.current = outer

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.client, name)
        if name not in self.client.meta.method_to_api_mapping:
            return attr

        @functools.wraps(attr)
        def observed(*args, **kwargs):
            with self.observing():
                return attr(*args, **kwargs)
        return observed

    def get_paginator(self, operation_name: str) -> "_ObservedPaginator":
        return _ObservedPaginator(self, self.client.get_paginator(operation_name))


class _ObservedPaginator:
    """A paginator of an :class:`Observed` client: each page is fetched while its observers watch."""

    def __init__(self, observed: Observed, paginator) -> None:
        self._observed, self._paginator = observed, paginator

    def paginate(self, **params) -> Iterator[dict]:
        it = iter(self._paginator.paginate(**params))
        while True:
            with self._observed.observing():
                page = next(it, None)
            if page is None:
                return
            yield page


def _current() -> Observed | None:
    return getattr(_OBSERVING, "current", None)


def _recorded(model, region: str, answered: bool, **_kwargs) -> None:
    """The thread's current call, told to its recorder: made (``before-call``) or answered (``after-call``)."""
    recorder = getattr(_current(), "recorder", None)
    if recorder is not None:
        call_ = Call(model.service_model.service_name, model.name, region, is_write(model.name))
        (recorder.answered if answered else recorder.called)(call_)


def _needs_retry(limit: int, **kwargs) -> None:
    progress = getattr(_current(), "progress", None)
    if progress is not None:
        _report_unreachable(progress, limit, **kwargs)


UNREACHABLE = (bexc.EndpointConnectionError, bexc.ConnectTimeoutError, bexc.ConnectionClosedError)


def _report_unreachable(progress: Callable[[str], None], limit: int, attempts: int = 0, operation=None,
                        caught_exception=None, endpoint=None, **_kwargs) -> None:
    """A ``needs-retry`` observer (it returns None, so botocore's own retry handler decides): one line per
    failed attempt to reach the endpoint that will be retried."""
    if isinstance(caught_exception, UNREACHABLE) and attempts < limit:
        where = getattr(endpoint, "host", "") or "AWS"
        progress(f"cannot reach {where} ({getattr(operation, 'name', 'a call')}, attempt {attempts} of {limit}: "
                 f"{type(caught_exception).__name__}); retrying")


def error_code(exc: BaseException) -> str:
    if isinstance(exc, bexc.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate(exc: BaseException, action: str, resource: str) -> AwsError:
    """Turn a botocore exception into an ``AwsCallError`` naming the action and the resource."""
    where = f"{action} on {resource}" if resource else action
    if isinstance(exc, bexc.ClientError):
        code = error_code(exc)
        msg = exc.response.get("Error", {}).get("Message", "") or str(exc)
        page = _web_page(exc, msg)
        if page:
            return AwsCallError(f"{where}: {page}", code=code, action=action, resource=resource,
                                hint="check AWS_ENDPOINT_URL and --region / AWS_REGION: something other than AWS "
                                     "(a proxy, a web server, a wrong URL) answered")
        if code in ACCESS_DENIED:
            return AwsCallError(f"access denied: {where}: {msg}", code=code, action=action, resource=resource,
                                hint=f"the identity running this needs permission for {action} on {resource}")
        if code in BAD_CREDENTIALS:
            return AwsCallError(f"AWS rejected the credentials ({code}) for {where}: {msg}", code=code,
                                action=action, resource=resource,
                                hint="refresh the credentials (e.g. `aws sso login`) or check AWS_PROFILE")
        if code in ("Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded",
                    "SlowDown") or code.startswith("5"):
            return AwsCallError(f"{where}: AWS kept answering {code} after retries: {msg}", code=code,
                                action=action, resource=resource, hint="run the same command again later")
        return AwsCallError(f"{where} failed: {code}: {msg}", code=code, action=action, resource=resource)
    if isinstance(exc, (bexc.NoCredentialsError, bexc.PartialCredentialsError)):
        return AwsCallError(f"no AWS credentials found for {where}", code="NoCredentials", action=action,
                            resource=resource,
                            hint="set AWS_PROFILE (and run `aws sso login`) or AWS_ACCESS_KEY_ID/"
                                 "AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, bexc.NoRegionError):
        return AwsCallError(f"no AWS region set for {where}", code="NoRegion", action=action,
                            resource=resource, hint="set AWS_REGION")
    if isinstance(exc, (bexc.EndpointConnectionError, bexc.ConnectTimeoutError, bexc.ReadTimeoutError,
                        bexc.ConnectionClosedError)):
        return AwsCallError(f"{where}: cannot reach AWS ({exc})", code="EndpointConnection", action=action,
                            resource=resource,
                            hint="check the network, or AWS_ENDPOINT_URL if you use a local endpoint")
    if isinstance(exc, bexc.BotoCoreError):
        return AwsCallError(f"{where} failed: {exc}", action=action, resource=resource)
    raise TypeError(f"not a botocore error: {exc!r}")


def _web_page(exc: bexc.ClientError, message: str) -> str:
    """What to say instead of ``message`` when it is an HTML page (botocore puts a body it cannot parse as an
    AWS error into the message whole), else "" ."""
    head = message.lstrip()[:200].lower()
    if not head.startswith(("<!doctype html", "<html")):
        return ""
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
    title = re.search(r"<title>(.*?)</title>", message, re.IGNORECASE | re.DOTALL)
    return (f"the endpoint answered HTTP {status} with a web page"
            f"{' (' + ' '.join(title.group(1).split()) + ')' if title else ''}, not an AWS answer")


@contextmanager
def translated(action: str, resource: str = "") -> Iterator[None]:
    """``with translated("CreateProduct", "product web in us-east-1"): ...`` raises ``AwsCallError``."""
    try:
        yield
    except (bexc.ClientError, bexc.BotoCoreError) as exc:
        raise translate(exc, action, resource) from exc


def call(c, operation: str, resource: str = "", **params):
    """Call ``operation`` (``CreateProduct``) on client ``c``; errors become ``AwsCallError``."""
    method = getattr(c, xform_name(operation))
    with translated(operation, resource):
        return method(**params)


def pages(c, operation: str, key: str, resource: str = "", *, token: tuple[str, str] = ("PageToken", "NextPageToken"),
          **params) -> list:
    """Every item under ``key`` of a listing, all pages.  botocore's paginator where the service model
    has one; otherwise ``token`` names the request's and the response's page-token fields (Service
    Catalog's end-user listings, e.g. SearchProducts, have no paginator: PageToken / NextPageToken)."""
    name = xform_name(operation)
    items: list = []
    if c.can_paginate(name):
        with translated(operation, resource):
            for page in c.get_paginator(name).paginate(**params):
                items.extend(page.get(key, []))
        return items
    request_token, response_token = token
    next_token = None
    while True:
        page = call(c, operation, resource, **params, **({request_token: next_token} if next_token else {}))
        items.extend(page.get(key, []))
        next_token = page.get(response_token)
        if not next_token:
            return items


def backoff(limit: float, first: float = 0.05) -> Iterator[float]:
    """Polling delays: quick at first, doubling, then every ``limit`` seconds.  A short operation finishes
    fast (a new artifact, a small stack update, and every one of them on the local endpoint, which answers
    IN_PROGRESS once): starting at 50 ms instead of 250 ms costs a wait on a long one two reads more
    (0.05 + 0.1 + 0.2 + 0.4 + 0.8 + 1.6 s before the first 2 s delay, against 0.25 + 0.5 + 1 s)."""
    delay = first
    while True:
        yield min(delay, limit)
        delay *= 2


def new_stack_events(c, stack: str, seen: set[str], since=None) -> list[dict]:
    """The events of ``stack`` not in ``seen`` (added to it), oldest first, from the newest page of
    DescribeStackEvents ("Returns all stack related events for a specified stack in reverse chronological
    order", *DescribeStackEvents*, AWS CloudFormation API Reference,
    https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStackEvents.html); with
    ``since`` (a datetime), only events from then on.  None when they cannot be read: they only add detail
    to progress."""
    try:
        events = call(c, "DescribeStackEvents", f"stack {stack}", StackName=stack)["StackEvents"]
    except AwsCallError:
        return []
    fresh = []
    for e in reversed(events):
        if e["EventId"] in seen:
            continue
        seen.add(e["EventId"])
        try:
            if since is not None and e["Timestamp"] < since:
                continue
        except TypeError:   # one of the two times without a time zone: keep the event
            pass
        fresh.append(e)
    return fresh


def event_line(e: dict) -> str:
    """One stack event as a progress line: status, resource type, logical id and the reason, if any."""
    reason = f": {e['ResourceStatusReason']}" if e.get("ResourceStatusReason") else ""
    return f"{e['ResourceStatus']:<20} {e['ResourceType']} {e['LogicalResourceId']}{reason}"


@dataclass(frozen=True)
class Call:
    service: str
    operation: str
    region: str
    write: bool


class CallRecorder:
    """Records every API call (once per call, not per retry) made through the clients handed out with it
    (:func:`client`).

    Thread-safe; one recorder may watch the calls of many threads.  ``writes()``/``reads()`` list the calls;
    ``summary()`` counts them.  A subclass may act on each answer too (``answered``: the tests'
    kill-at-a-chosen-point recorder does).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.calls: list[Call] = []

    def called(self, call_: Call) -> None:
        with self._lock:
            self.calls.append(call_)

    def answered(self, call_: Call) -> None:
        """``call_`` was answered (successfully or with an AWS error): nothing to do for the counts."""

    def writes(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.write]

    def reads(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if not c.write]

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def summary(self) -> dict:
        with self._lock:
            calls = list(self.calls)
        return {"read": sum(not c.write for c in calls), "write": sum(c.write for c in calls),
                "by_operation": dict(sorted(Counter(f"{c.service}:{c.operation}" for c in calls).items()))}
