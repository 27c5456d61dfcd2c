"""Write TFLite model metadata (the ``TFLITE_METADATA`` entry) without the TFLite support library.

MediaPipe's Tasks API reads how to scale an image into a float input tensor from the model's
metadata; the pose landmark model shipped in the ``mediapipe==0.10.21`` wheel has none. The
metadata writer bundled with current MediaPipe does not import (a compiled module is missing),
so this module builds the metadata flatbuffer itself.

The flatbuffer classes come from the pure-Python modules generated from ``schema.fbs`` (the
TFLite model) and ``metadata_schema.fbs``, which that same wheel carries. They are loaded from
the wheel at build time (see :func:`load_schemas`) instead of being copied into this project.

How metadata is attached (what the TFLite metadata populator does): the serialised
``ModelMetadata`` flatbuffer (file identifier ``M001``) becomes a new entry of the model's
``buffers`` vector, and an entry named ``TFLITE_METADATA`` in the model's ``metadata`` vector
points at it. The model is then re-serialised (file identifier ``TFL3``).
"""

from __future__ import annotations

import types
import zipfile
from dataclasses import dataclass
from pathlib import Path

import flatbuffers

METADATA_NAME = "TFLITE_METADATA"
MODEL_IDENTIFIER = b"TFL3"
METADATA_IDENTIFIER = b"M001"
# NormalizationOptions and ImageProperties are part of metadata schema 1.0.0.
MIN_PARSER_VERSION = "1.0.0"
# TFLite's converter aligns constant buffers to 16 bytes; keep that when re-serialising.
BUFFER_ALIGNMENT = 16

WHEEL_MODEL_SCHEMA = "mediapipe/tasks/metadata/schema_py_generated.py"
WHEEL_METADATA_SCHEMA = "mediapipe/tasks/metadata/metadata_schema_py_generated.py"


@dataclass(frozen=True)
class Schemas:
    """The generated flatbuffer modules: ``model`` (schema.fbs), ``metadata`` (metadata_schema)."""

    model: types.ModuleType
    metadata: types.ModuleType


@dataclass(frozen=True)
class ImageInputSpec:
    """How the Tasks API must turn an RGB ``uint8`` image into the float input tensor.

    The tensor value is ``(pixel - mean) / std``; e.g. ``mean=0, std=255`` gives ``[0, 1]``.
    """

    mean: float
    std: float
    name: str = "image"
    description: str = "Input image, RGB"


def load_schemas(wheel: Path) -> Schemas:
    """Load the generated flatbuffer schema modules from a MediaPipe wheel (a zip file).

    The modules are executed into fresh module objects, not registered in ``sys.modules``:
    nothing outside this build sees them.
    """
    with zipfile.ZipFile(wheel) as zf:
        model_src = zf.read(WHEEL_MODEL_SCHEMA)
        metadata_src = zf.read(WHEEL_METADATA_SCHEMA)
    return Schemas(
        model=_module_from_source("posture_tflite_schema", model_src, WHEEL_MODEL_SCHEMA),
        metadata=_module_from_source(
            "posture_tflite_metadata_schema", metadata_src, WHEEL_METADATA_SCHEMA
        ),
    )


def _module_from_source(name: str, source: bytes, origin: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = origin
    exec(compile(source, origin, "exec"), module.__dict__)  # noqa: S102 - generated schema code
    return module


def tensor_names(schemas: Schemas, model: bytes) -> tuple[list[str], list[str]]:
    """Names of the first subgraph's input and output tensors, in order."""
    m = schemas.model.Model.GetRootAs(model, 0)
    sg = m.Subgraphs(0)
    ins = [sg.Tensors(int(i)).Name().decode() for i in sg.InputsAsNumpy()]
    outs = [sg.Tensors(int(i)).Name().decode() for i in sg.OutputsAsNumpy()]
    return ins, outs


def build_image_model_metadata(
    schemas: Schemas,
    *,
    name: str,
    description: str,
    image: ImageInputSpec,
    output_names: list[str],
    version: str = "",
    author: str = "",
) -> bytes:
    """Serialise a ``ModelMetadata`` for a model with one RGB image input.

    Parameters
    ----------
    schemas
        From :func:`load_schemas`.
    name, description, version, author
        Free text stored in the metadata.
    image
        The normalisation of the (single) image input.
    output_names
        One entry per model output, in order; metadata must describe every output.

    Returns
    -------
    bytes
        A flatbuffer with file identifier ``M001``.
    """
    md = schemas.metadata

    props = md.ImagePropertiesT()
    props.colorSpace = md.ColorSpaceType.RGB
    content = md.ContentT()
    content.contentPropertiesType = md.ContentProperties.ImageProperties
    content.contentProperties = props

    norm = md.NormalizationOptionsT()
    norm.mean = [float(image.mean)]
    norm.std = [float(image.std)]
    unit = md.ProcessUnitT()
    unit.optionsType = md.ProcessUnitOptions.NormalizationOptions
    unit.options = norm

    stats = md.StatsT()
    stats.min = [(0.0 - image.mean) / image.std]
    stats.max = [(255.0 - image.mean) / image.std]

    tin = md.TensorMetadataT()
    tin.name = image.name
    tin.description = image.description
    tin.content = content
    tin.processUnits = [unit]
    tin.stats = stats

    subgraph = md.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [tin]
    subgraph.outputTensorMetadata = [_feature_tensor(md, n) for n in output_names]

    meta = md.ModelMetadataT()
    meta.name = name
    meta.description = description
    meta.version = version or None
    meta.author = author or None
    meta.subgraphMetadata = [subgraph]
    meta.minParserVersion = MIN_PARSER_VERSION

    builder = flatbuffers.Builder(1024)
    builder.Finish(meta.Pack(builder), file_identifier=METADATA_IDENTIFIER)
    return bytes(builder.Output())


def _feature_tensor(md: types.ModuleType, name: str):
    out = md.TensorMetadataT()
    out.name = name
    content = md.ContentT()
    content.contentPropertiesType = md.ContentProperties.FeatureProperties
    content.contentProperties = md.FeaturePropertiesT()
    out.content = content
    out.stats = md.StatsT()
    return out


def read_model_metadata(schemas: Schemas, model: bytes):
    """The model's ``ModelMetadataT``, or ``None`` when it has no ``TFLITE_METADATA`` entry."""
    m = schemas.model.Model.GetRootAs(model, 0)
    for i in range(m.MetadataLength()):
        entry = m.Metadata(i)
        if entry.Name().decode() == METADATA_NAME:
            data = m.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
            root = schemas.metadata.ModelMetadata.GetRootAs(data, 0)
            return schemas.metadata.ModelMetadataT.InitFromObj(root)
    return None


def realign(schemas: Schemas, model: bytes) -> bytes:
    """Re-serialise ``model`` unchanged except that constant buffers are 16-byte aligned."""
    return _repack(schemas, model, extra_metadata=None)


def attach_metadata(schemas: Schemas, model: bytes, metadata: bytes) -> bytes:
    """Return ``model`` re-serialised with ``metadata`` as its ``TFLITE_METADATA``.

    An existing ``TFLITE_METADATA`` entry is replaced (its old buffer stays, unused and empty).
    """
    return _repack(schemas, model, extra_metadata=bytes(metadata))


def _repack(schemas: Schemas, model: bytes, extra_metadata: bytes | None) -> bytes:
    tfl = schemas.model
    if not tfl.Model.ModelBufferHasIdentifier(model, 0):
        raise ValueError("not a TFLite model (file identifier TFL3 missing)")
    obj = tfl.ModelT.InitFromObj(tfl.Model.GetRootAs(model, 0))
    buffers = [_AlignedBuffer.from_buffer_t(tfl, b) for b in (obj.buffers or [])]
    entries = list(obj.metadata or [])
    if extra_metadata is not None:
        entries = [e for e in entries if _entry_name(e) != METADATA_NAME]
        buffers.append(_AlignedBuffer(tfl, extra_metadata))
        entry = tfl.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(buffers) - 1
        entries.append(entry)
    obj.buffers = buffers
    obj.metadata = entries or None

    size = len(model) + len(extra_metadata or b"") + 4096
    builder = flatbuffers.Builder(size)
    builder.Finish(obj.Pack(builder), file_identifier=MODEL_IDENTIFIER)
    return bytes(builder.Output())


def _entry_name(entry) -> str:
    name = entry.name
    return name.decode() if isinstance(name, bytes) else str(name)


class _AlignedBuffer:
    """Stands in for the generated ``BufferT`` when packing: data aligned to 16 bytes.

    The generated ``BufferT.Pack`` aligns data to its element size (1 byte) only.
    """

    def __init__(self, tfl: types.ModuleType, data: bytes | None, offset: int = 0, size: int = 0):
        self.tfl = tfl
        self.data = data
        self.offset = offset
        self.size = size

    @classmethod
    def from_buffer_t(cls, tfl: types.ModuleType, buf) -> _AlignedBuffer:
        data = None if buf is None or buf.data is None else bytes(memoryview(buf.data))
        return cls(tfl, data, getattr(buf, "offset", 0), getattr(buf, "size", 0))

    def Pack(self, builder: flatbuffers.Builder) -> int:  # noqa: N802 - flatbuffers' name
        tfl = self.tfl
        data_off = None
        if self.data is not None:
            n = len(self.data)
            builder.StartVector(1, n, BUFFER_ALIGNMENT)
            builder.head -= n
            builder.Bytes[builder.head : builder.head + n] = self.data
            data_off = builder.EndVector()
        tfl.BufferStart(builder)
        if data_off is not None:
            tfl.BufferAddData(builder, data_off)
        # offset/size locate weights outside the flatbuffer (models over 2 GB); newer schemas.
        if hasattr(tfl, "BufferAddOffset"):
            tfl.BufferAddOffset(builder, self.offset)
            tfl.BufferAddSize(builder, self.size)
        return tfl.BufferEnd(builder)
