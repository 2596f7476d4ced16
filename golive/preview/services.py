"""pulumirpc.ResourceMonitor and pulumirpc.Engine over gRPC: the services a Python program talks to
exactly as it talks to the Pulumi CLI, each call handed to the offline `Preview` (deployment.py), each
refusal answered as the engine's status."""

from __future__ import annotations

from collections.abc import Callable
from concurrent import futures
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import empty_pb2

from golive.preview import _proto

if TYPE_CHECKING:
    from pulumi.runtime.proto import engine_pb2, engine_pb2_grpc, resource_pb2, resource_pb2_grpc
else:
    engine_pb2 = _proto.load("engine_pb2")
    engine_pb2_grpc = _proto.load("engine_pb2_grpc")
    resource_pb2 = _proto.load("resource_pb2")
    resource_pb2_grpc = _proto.load("resource_pb2_grpc")

from golive.preview.deployment import SUPPORTED_FEATURE_IDS, Preview
from golive.preview.refusal import MonitorError
from golive.preview.versions import ENGINE_VERSION, version_in_range

_SEVERITY = {engine_pb2.DEBUG: "debug", engine_pb2.INFO: "info", engine_pb2.WARNING: "warning",
             engine_pb2.ERROR: "error"}


def _guard(method: Callable[..., Any]) -> Callable[..., Any]:
    """Turn MonitorError (and any bug of ours) into the RPC's error status, as the engine reports it."""

    def wrapper(self: Any, request: Any, context: grpc.ServicerContext) -> Any:
        try:
            return method(self, request, context)
        except MonitorError as err:
            context.abort(err.code, str(err))
        except Exception as err:
            context.abort(grpc.StatusCode.INTERNAL, f"golive monitor: {type(err).__name__}: {err}")

    wrapper.__name__ = method.__name__
    wrapper.__doc__ = method.__doc__
    return wrapper


class ResourceMonitorService(resource_pb2_grpc.ResourceMonitorServicer):
    def __init__(self, preview: Preview) -> None:
        self.preview = preview

    @_guard
    def GetDeploymentInfo(self, request: Any, context: grpc.ServicerContext) -> resource_pb2.DeploymentInfo:
        return self.preview.deployment_info()

    @_guard
    def SupportsFeature(self, request: Any, context: grpc.ServicerContext) -> Any:
        return resource_pb2.SupportsFeatureResponse(hasSupport=request.id in SUPPORTED_FEATURE_IDS)

    @_guard
    def RegisterResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.preview.register_resource(request)

    @_guard
    def RegisterResourceOutputs(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.preview.register_resource_outputs(request)
        return empty_pb2.Empty()

    @_guard
    def ReadResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.preview.read_resource(request)

    @_guard
    def Invoke(self, request: Any, context: grpc.ServicerContext) -> Any:
        return self.preview.invoke(request)

    @_guard
    def Call(self, request: Any, context: grpc.ServicerContext) -> Any:
        raise MonitorError(f"call of {request.tok}: methods of remote components run in their provider "
                           "plugin, which golive does not run offline", grpc.StatusCode.UNIMPLEMENTED)

    @_guard
    def RegisterStackTransform(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.preview.register_stack_transform(request)
        return empty_pb2.Empty()

    @_guard
    def RegisterStackInvokeTransform(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.preview.register_stack_transform(request, invoke=True)
        return empty_pb2.Empty()

    @_guard
    def RegisterResourceHook(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.preview.register_hook(request.name, request.callback, request.on_dry_run, request.ignore_errors)
        return empty_pb2.Empty()

    @_guard
    def RegisterErrorHook(self, request: Any, context: grpc.ServicerContext) -> Any:
        self.preview.register_hook(request.name, request.callback, False)
        return empty_pb2.Empty()

    @_guard
    def RegisterPackage(self, request: Any, context: grpc.ServicerContext) -> Any:
        return resource_pb2.RegisterPackageResponse(ref=self.preview.register_package(request))

    @_guard
    def SignalAndWaitForShutdown(self, request: Any, context: grpc.ServicerContext) -> Any:
        # The engine ends its source of events here, so its analyzers' AnalyzeStack runs now; it also
        # holds the call until the deployment is done, which offline only delays the program's exit.
        if not self.preview.signal_shutdown():
            raise MonitorError("Already waiting for shutdown")  # resmon's answer to a second call
        return empty_pb2.Empty()


class EngineService(engine_pb2_grpc.EngineServicer):
    def __init__(self, preview: Preview) -> None:
        self.preview = preview

    @_guard
    def Log(self, request: Any, context: grpc.ServicerContext) -> Any:
        severity = _SEVERITY.get(request.severity, "info")
        if severity != "debug":  # the SDK's own tracing, which the CLI shows only with --debug
            self.preview.log(severity, request.message, request.urn)
        return empty_pb2.Empty()

    @_guard
    def GetRootResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        return engine_pb2.GetRootResourceResponse(urn=self.preview.root_urn)

    @_guard
    def SetRootResource(self, request: Any, context: grpc.ServicerContext) -> Any:
        with self.preview.lock:
            self.preview.root_urn = request.urn
        return engine_pb2.SetRootResourceResponse()

    @_guard
    def RequirePulumiVersion(self, request: Any, context: grpc.ServicerContext) -> Any:
        if not version_in_range(ENGINE_VERSION, request.pulumi_version_range):
            raise MonitorError(f"Pulumi CLI version {ENGINE_VERSION} does not satisfy the version range "
                               f"{request.pulumi_version_range!r} requested by the program",
                               grpc.StatusCode.FAILED_PRECONDITION)
        return engine_pb2.RequirePulumiVersionResponse()


class Servers:
    """The ResourceMonitor and Engine services on loopback ports, for one program run."""

    def __init__(self, preview: Preview, *, workers: int = 64, monitor_port: int = 0, engine_port: int = 0) -> None:
        """Port 0 picks a free port; a given port may be held by a socket with SO_REUSEPORT set."""
        self.preview = preview
        options = [("grpc.max_receive_message_length", 400 * 1024 * 1024),
                   ("grpc.max_send_message_length", 400 * 1024 * 1024)]
        self._monitor = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=options)
        self._engine = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=options)
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(ResourceMonitorService(preview),
                                                                self._monitor)
        engine_pb2_grpc.add_EngineServicer_to_server(EngineService(preview), self._engine)
        self.monitor_address = f"127.0.0.1:{self._monitor.add_insecure_port(f'127.0.0.1:{monitor_port}')}"
        self.engine_address = f"127.0.0.1:{self._engine.add_insecure_port(f'127.0.0.1:{engine_port}')}"

    def start(self) -> Servers:
        self._monitor.start()
        self._engine.start()
        return self

    def stop(self) -> None:
        for server in (self._monitor, self._engine):
            server.stop(grace=None).wait(5)
        self.preview.close()

    def __enter__(self) -> Servers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
