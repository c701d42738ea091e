"""One request class for the application, made once at start-up.

Pyramid applies the properties of ``config.add_request_method(..., reify=True)``
(``request.tm``, ``request.dbsession``, ``request.user``, ``request.camauth``
and any of the host application's) by making a new subclass of the request
class for *every* request (``InstancePropertyHelper.apply_properties``). That
costs about as much as a whole "hello" request. When the application is made
the configuration is final, so the same subclass is made once here and the
router uses it; per request only the plain methods are still bound.

A request the router did not make (one passed to ``invoke_subrequest``, say
``Request.blank(...)``) still gets every property, as before.
"""

from __future__ import annotations

from typing import Any

from pyramid.events import ApplicationCreated
from pyramid.interfaces import IRequestExtensions
from pyramid.registry import Registry
from pyramid.request import Request
from pyramid.router import Router
from pyramid.util import InstancePropertyHelper
from zope.interface import implementer


@implementer(IRequestExtensions)
class _MethodsOnly:
    def __init__(self, methods: dict[str, Any]) -> None:
        self.methods = methods
        self.descriptors: dict[str, Any] = {}


def bake_request_properties(event: ApplicationCreated) -> None:
    router: Router = event.app
    _stop_listening(router.registry)
    extensions = router.request_extensions
    parent = router.request_factory
    if extensions is None or not extensions.descriptors or not isinstance(parent, type):
        return  # nothing to bake, or a factory function we cannot subclass
    descriptors = dict(extensions.descriptors)
    attributes = {**descriptors, "__module__": parent.__module__}
    baked = type(parent.__name__, (parent,), attributes)
    # as Pyramid does for its per-request classes: look like the parent to
    # zope.interface, so adapter lookups create no new specifications
    for name in ("__implemented__", "__provides__"):
        if hasattr(parent, name):
            setattr(baked, name, getattr(parent, name))
    router.request_factory = baked
    methods = dict(extensions.methods)
    router.request_extensions = _MethodsOnly(methods) if methods else None

    invoke_subrequest = router.invoke_subrequest

    def invoke_subrequest_with_properties(request: Request, use_tweens: bool = False) -> Any:
        if not isinstance(request, baked):
            InstancePropertyHelper.apply_properties(request, descriptors)
        return invoke_subrequest(request, use_tweens=use_tweens)

    router.invoke_subrequest = invoke_subrequest_with_properties


def _stop_listening(registry: Registry) -> None:
    """This subscriber is needed once. While any subscriber is registered the
    router announces four events per request (NewRequest, ContextFound, ...);
    with none left, it need not."""
    for registration in list(registry.registeredHandlers()):
        # Pyramid registers a wrapper of the subscriber (functools.wraps)
        if getattr(registration.factory, "__wrapped__", None) is bake_request_properties:
            registry.unregisterHandler(registration.factory, registration.required)
    if not any(registry.registeredHandlers()) and not any(
        registry.registeredSubscriptionAdapters()
    ):
        registry.has_listeners = False
