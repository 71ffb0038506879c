from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SourceStatus(_message.Message):
    __slots__ = ("id", "kind", "state", "frames", "dropped", "last_error")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FRAMES_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    state: str
    frames: int
    dropped: int
    last_error: str
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., state: _Optional[str] = ..., frames: _Optional[int] = ..., dropped: _Optional[int] = ..., last_error: _Optional[str] = ...) -> None: ...

class StrategyCounters(_message.Message):
    __slots__ = ("name", "matched", "selected")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MATCHED_FIELD_NUMBER: _ClassVar[int]
    SELECTED_FIELD_NUMBER: _ClassVar[int]
    name: str
    matched: int
    selected: int
    def __init__(self, name: _Optional[str] = ..., matched: _Optional[int] = ..., selected: _Optional[int] = ...) -> None: ...

class Status(_message.Message):
    __slots__ = ("version", "uptime_s", "model_id", "providers", "capture_paused", "online", "sources", "batches", "mean_batch_size", "last_batch_latency_ms", "spool", "last_sync_result", "last_sync_age_s", "config_origin", "strategies", "frames_in", "frames_inferred", "frames_dropped", "near_duplicates", "limited", "active_learning_enabled", "destination_state", "capture_reason", "config_reason", "frames_skipped", "dropped_by_reason", "limits", "spool_oldest_age_s", "class_psi")
    class DroppedByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class ClassPsiEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_PAUSED_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    SOURCES_FIELD_NUMBER: _ClassVar[int]
    BATCHES_FIELD_NUMBER: _ClassVar[int]
    MEAN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    LAST_BATCH_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    SPOOL_FIELD_NUMBER: _ClassVar[int]
    LAST_SYNC_RESULT_FIELD_NUMBER: _ClassVar[int]
    LAST_SYNC_AGE_S_FIELD_NUMBER: _ClassVar[int]
    CONFIG_ORIGIN_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    FRAMES_IN_FIELD_NUMBER: _ClassVar[int]
    FRAMES_INFERRED_FIELD_NUMBER: _ClassVar[int]
    FRAMES_DROPPED_FIELD_NUMBER: _ClassVar[int]
    NEAR_DUPLICATES_FIELD_NUMBER: _ClassVar[int]
    LIMITED_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_LEARNING_ENABLED_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_STATE_FIELD_NUMBER: _ClassVar[int]
    CAPTURE_REASON_FIELD_NUMBER: _ClassVar[int]
    CONFIG_REASON_FIELD_NUMBER: _ClassVar[int]
    FRAMES_SKIPPED_FIELD_NUMBER: _ClassVar[int]
    DROPPED_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    SPOOL_OLDEST_AGE_S_FIELD_NUMBER: _ClassVar[int]
    CLASS_PSI_FIELD_NUMBER: _ClassVar[int]
    version: str
    uptime_s: float
    model_id: str
    providers: _containers.RepeatedScalarFieldContainer[str]
    capture_paused: bool
    online: bool
    sources: _containers.RepeatedCompositeFieldContainer[SourceStatus]
    batches: int
    mean_batch_size: float
    last_batch_latency_ms: float
    spool: SpoolStats
    last_sync_result: str
    last_sync_age_s: float
    config_origin: str
    strategies: _containers.RepeatedCompositeFieldContainer[StrategyCounters]
    frames_in: int
    frames_inferred: int
    frames_dropped: int
    near_duplicates: int
    limited: int
    active_learning_enabled: bool
    destination_state: str
    capture_reason: str
    config_reason: str
    frames_skipped: int
    dropped_by_reason: _containers.ScalarMap[str, int]
    limits: _containers.RepeatedCompositeFieldContainer[LimitWindow]
    spool_oldest_age_s: float
    class_psi: _containers.ScalarMap[str, float]
    def __init__(self, version: _Optional[str] = ..., uptime_s: _Optional[float] = ..., model_id: _Optional[str] = ..., providers: _Optional[_Iterable[str]] = ..., capture_paused: _Optional[bool] = ..., online: _Optional[bool] = ..., sources: _Optional[_Iterable[_Union[SourceStatus, _Mapping]]] = ..., batches: _Optional[int] = ..., mean_batch_size: _Optional[float] = ..., last_batch_latency_ms: _Optional[float] = ..., spool: _Optional[_Union[SpoolStats, _Mapping]] = ..., last_sync_result: _Optional[str] = ..., last_sync_age_s: _Optional[float] = ..., config_origin: _Optional[str] = ..., strategies: _Optional[_Iterable[_Union[StrategyCounters, _Mapping]]] = ..., frames_in: _Optional[int] = ..., frames_inferred: _Optional[int] = ..., frames_dropped: _Optional[int] = ..., near_duplicates: _Optional[int] = ..., limited: _Optional[int] = ..., active_learning_enabled: _Optional[bool] = ..., destination_state: _Optional[str] = ..., capture_reason: _Optional[str] = ..., config_reason: _Optional[str] = ..., frames_skipped: _Optional[int] = ..., dropped_by_reason: _Optional[_Mapping[str, int]] = ..., limits: _Optional[_Iterable[_Union[LimitWindow, _Mapping]]] = ..., spool_oldest_age_s: _Optional[float] = ..., class_psi: _Optional[_Mapping[str, float]] = ...) -> None: ...

class LimitWindow(_message.Message):
    __slots__ = ("strategy", "window", "used", "cap")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    WINDOW_FIELD_NUMBER: _ClassVar[int]
    USED_FIELD_NUMBER: _ClassVar[int]
    CAP_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    window: str
    used: int
    cap: int
    def __init__(self, strategy: _Optional[str] = ..., window: _Optional[str] = ..., used: _Optional[int] = ..., cap: _Optional[int] = ...) -> None: ...

class GetConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SetConfigRequest(_message.Message):
    __slots__ = ("config_json",)
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    def __init__(self, config_json: _Optional[str] = ...) -> None: ...

class ReloadConfigRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ConfigDocument(_message.Message):
    __slots__ = ("config_json", "origin", "etag")
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    config_json: str
    origin: str
    etag: str
    def __init__(self, config_json: _Optional[str] = ..., origin: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class PauseCaptureRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ResumeCaptureRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CaptureState(_message.Message):
    __slots__ = ("paused",)
    PAUSED_FIELD_NUMBER: _ClassVar[int]
    paused: bool
    def __init__(self, paused: _Optional[bool] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("model_id", "task", "class_names", "input_height", "input_width", "loaded", "providers")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    CLASS_NAMES_FIELD_NUMBER: _ClassVar[int]
    INPUT_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INPUT_WIDTH_FIELD_NUMBER: _ClassVar[int]
    LOADED_FIELD_NUMBER: _ClassVar[int]
    PROVIDERS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    task: str
    class_names: _containers.RepeatedScalarFieldContainer[str]
    input_height: int
    input_width: int
    loaded: bool
    providers: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_id: _Optional[str] = ..., task: _Optional[str] = ..., class_names: _Optional[_Iterable[str]] = ..., input_height: _Optional[int] = ..., input_width: _Optional[int] = ..., loaded: _Optional[bool] = ..., providers: _Optional[_Iterable[str]] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models",)
    MODELS_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[ModelInfo]
    def __init__(self, models: _Optional[_Iterable[_Union[ModelInfo, _Mapping]]] = ...) -> None: ...

class LoadModelRequest(_message.Message):
    __slots__ = ("model_id",)
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    def __init__(self, model_id: _Optional[str] = ...) -> None: ...

class UnloadModelRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class InferRequest(_message.Message):
    __slots__ = ("image", "source_id", "submit")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    source_id: str
    submit: bool
    def __init__(self, image: _Optional[bytes] = ..., source_id: _Optional[str] = ..., submit: _Optional[bool] = ...) -> None: ...

class InferResponse(_message.Message):
    __slots__ = ("prediction_json", "matched_strategies", "selected_strategy")
    PREDICTION_JSON_FIELD_NUMBER: _ClassVar[int]
    MATCHED_STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    SELECTED_STRATEGY_FIELD_NUMBER: _ClassVar[int]
    prediction_json: str
    matched_strategies: _containers.RepeatedScalarFieldContainer[str]
    selected_strategy: str
    def __init__(self, prediction_json: _Optional[str] = ..., matched_strategies: _Optional[_Iterable[str]] = ..., selected_strategy: _Optional[str] = ...) -> None: ...

class SubmitFrameRequest(_message.Message):
    __slots__ = ("image", "source_id", "frame_id")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    FRAME_ID_FIELD_NUMBER: _ClassVar[int]
    image: bytes
    source_id: str
    frame_id: str
    def __init__(self, image: _Optional[bytes] = ..., source_id: _Optional[str] = ..., frame_id: _Optional[str] = ...) -> None: ...

class SubmitFramesResponse(_message.Message):
    __slots__ = ("accepted", "rejected", "errors")
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    accepted: int
    rejected: int
    errors: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, accepted: _Optional[int] = ..., rejected: _Optional[int] = ..., errors: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchEventsRequest(_message.Message):
    __slots__ = ("kinds",)
    KINDS_FIELD_NUMBER: _ClassVar[int]
    kinds: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, kinds: _Optional[_Iterable[str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("kind", "time_s", "source_id", "detail")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_S_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    time_s: float
    source_id: str
    detail: str
    def __init__(self, kind: _Optional[str] = ..., time_s: _Optional[float] = ..., source_id: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class GetSpoolStatsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FlushSpoolRequest(_message.Message):
    __slots__ = ("timeout_s",)
    TIMEOUT_S_FIELD_NUMBER: _ClassVar[int]
    timeout_s: float
    def __init__(self, timeout_s: _Optional[float] = ...) -> None: ...

class PurgeSpoolRequest(_message.Message):
    __slots__ = ("all",)
    ALL_FIELD_NUMBER: _ClassVar[int]
    all: bool
    def __init__(self, all: _Optional[bool] = ...) -> None: ...

class SpoolStats(_message.Message):
    __slots__ = ("count", "bytes", "ready", "leased", "dead", "dropped", "rejected", "expired", "delivered")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    LEASED_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    count: int
    bytes: int
    ready: int
    leased: int
    dead: int
    dropped: int
    rejected: int
    expired: int
    delivered: int
    def __init__(self, count: _Optional[int] = ..., bytes: _Optional[int] = ..., ready: _Optional[int] = ..., leased: _Optional[int] = ..., dead: _Optional[int] = ..., dropped: _Optional[int] = ..., rejected: _Optional[int] = ..., expired: _Optional[int] = ..., delivered: _Optional[int] = ...) -> None: ...
