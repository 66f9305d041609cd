using System.IO.MemoryMappedFiles;
using System.Text.Json;

namespace Retro.Engine.Checkpoints;

/// <summary>
/// A memory-mapped, read-only safetensors file: 8-byte little-endian header length N, N bytes of JSON header
/// (<c>{"name": {"dtype", "shape", "data_offsets": [b, e]}, "__metadata__": {...}}</c>), then the data. The header is
/// validated on open (JSON, known dtypes, sizes matching shapes, offsets in range and non-overlapping, file length);
/// failures throw <see cref="CheckpointFormatException"/>. Tensors stay valid until <see cref="Dispose"/>.
/// </summary>
public sealed unsafe class SafetensorsFile : IDisposable
{
    /// <summary>Largest header accepted (100 MB, as the reference implementation).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Dictionary<string, CheckpointTensor> _tensors;
    private readonly List<CheckpointTensor> _ordered;
    private byte* _base;

    private SafetensorsFile(string path, MemoryMappedFile map, MemoryMappedViewAccessor view, byte* basePointer, long length)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePointer;
        Length = length;
        _tensors = new Dictionary<string, CheckpointTensor>(StringComparer.Ordinal);
        _ordered = [];
        Metadata = new Dictionary<string, string>(StringComparer.Ordinal);
    }

    /// <summary>The file's path as given to <see cref="Open"/>.</summary>
    public string Path { get; }

    /// <summary>File length in bytes.</summary>
    public long Length { get; }

    /// <summary>The header's <c>__metadata__</c> entries (empty when absent).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>Tensors in header order (by data offset).</summary>
    public IReadOnlyList<CheckpointTensor> Tensors => _ordered;

    /// <summary>Host address of the first byte of the file in the mapping.</summary>
    public nint BaseAddress
    {
        get
        {
            ObjectDisposedException.ThrowIf(_base == null, this);
            return (nint)_base;
        }
    }

    /// <summary>Opens and validates <paramref name="path"/>.</summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        long length = info.Length;
        if (length < 8) throw new CheckpointFormatException(path, null, $"file is {length} bytes, shorter than the 8-byte header length");

        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, 0, MemoryMappedFileAccess.Read);
        MemoryMappedViewAccessor? view = null;
        SafetensorsFile? file = null;
        try
        {
            view = map.CreateViewAccessor(0, length, MemoryMappedFileAccess.Read);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            pointer += view.PointerOffset;
            file = new SafetensorsFile(path, map, view, pointer, length);
            file.ReadHeader();
            return file;
        }
        catch
        {
            if (file is not null) file.Dispose();
            else
            {
                view?.Dispose();
                map.Dispose();
            }
            throw;
        }
    }

    /// <summary>The tensor named <paramref name="name"/>, or false.</summary>
    public bool TryGet(string name, out CheckpointTensor tensor) => _tensors.TryGetValue(name, out tensor!);

    /// <summary>The tensor named <paramref name="name"/>; a missing tensor throws <see cref="CheckpointFormatException"/>.</summary>
    public CheckpointTensor Get(string name) =>
        _tensors.TryGetValue(name, out var t) ? t : throw new CheckpointFormatException(Path, name, "missing");

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        if (_base != null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _base = null;
        }
        _view.Dispose();
        _map.Dispose();
    }

    // ---------------------------------------------------------------- header

    private void ReadHeader()
    {
        long headerLength = *(long*)_base;
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        if (headerLength <= 0 || headerLength > MaxHeaderBytes)
            throw new CheckpointFormatException(Path, null, $"header length {headerLength} is not in 1..{MaxHeaderBytes}");
        if (8 + headerLength > Length)
            throw new CheckpointFormatException(Path, null, $"header length {headerLength} runs past the end of the {Length}-byte file (truncated?)");

        long dataStart = 8 + headerLength;
        long dataLength = Length - dataStart;
        var headerBytes = new ReadOnlySpan<byte>(_base + 8, (int)headerLength);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(headerBytes.ToArray());
        }
        catch (JsonException e)
        {
            throw new CheckpointFormatException(Path, null, $"header is not valid JSON ({e.Message})", e);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointFormatException(Path, null, "header is not a JSON object");
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    ReadMetadata(property.Value);
                    continue;
                }
                var tensor = ReadEntry(property.Name, property.Value, dataStart, dataLength);
                if (!_tensors.TryAdd(tensor.Name, tensor))
                    throw new CheckpointFormatException(Path, property.Name, "appears twice in the header");
                _ordered.Add(tensor);
            }
        }

        _ordered.Sort((a, b) => a.ByteOffset.CompareTo(b.ByteOffset));
        for (int i = 1; i < _ordered.Count; i++)
        {
            var previous = _ordered[i - 1];
            if (_ordered[i].ByteOffset < previous.ByteOffset + previous.ByteLength)
                throw new CheckpointFormatException(Path, _ordered[i].Name, $"data overlaps tensor '{previous.Name}'");
        }
    }

    private void ReadMetadata(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(Path, "__metadata__", "is not a JSON object");
        var metadata = (Dictionary<string, string>)Metadata;
        foreach (var entry in element.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointFormatException(Path, "__metadata__", $"value of '{entry.Name}' is not a string");
            metadata[entry.Name] = entry.Value.GetString()!;
        }
    }

    private CheckpointTensor ReadEntry(string name, JsonElement entry, long dataStart, long dataLength)
    {
        if (entry.ValueKind != JsonValueKind.Object)
            throw new CheckpointFormatException(Path, name, "header entry is not a JSON object");
        if (!entry.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new CheckpointFormatException(Path, name, "header entry has no string 'dtype'");
        string dtypeName = dtypeElement.GetString()!;
        if (!DTypes.TryParseSafetensorsName(dtypeName, out var type))
            throw new CheckpointFormatException(Path, name, $"unsupported dtype '{dtypeName}' (expected F32, F16, BF16, I32 or I64)");

        if (!entry.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new CheckpointFormatException(Path, name, "header entry has no 'shape' array");
        var shape = new int[shapeElement.GetArrayLength()];
        long count = 1;
        int d = 0;
        foreach (var dim in shapeElement.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt32(out int value) || value < 0)
                throw new CheckpointFormatException(Path, name, $"shape dimension {d} is not a non-negative 32-bit integer");
            shape[d++] = value;
            count = checked(count * value);
        }

        if (!entry.TryGetProperty("data_offsets", out var offsets) || offsets.ValueKind != JsonValueKind.Array || offsets.GetArrayLength() != 2)
            throw new CheckpointFormatException(Path, name, "header entry has no 'data_offsets' [begin, end]");
        if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end))
            throw new CheckpointFormatException(Path, name, "data_offsets are not integers");
        if (begin < 0 || end < begin)
            throw new CheckpointFormatException(Path, name, $"data_offsets [{begin}, {end}] are not an ordered, non-negative range");
        if (end > dataLength)
            throw new CheckpointFormatException(Path, name, $"data_offsets [{begin}, {end}] run past the {dataLength} data bytes (file truncated?)");
        long expected = count * DTypes.SizeOf(type);
        if (end - begin != expected)
            throw new CheckpointFormatException(Path, name, $"holds {end - begin} bytes but {dtypeName}({string.Join(", ", shape)}) needs {expected}");
        return new CheckpointTensor(this, name, type, shape, dataStart + begin, end - begin);
    }
}
