using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Retro.VectorStore.Vectors;

/// <summary>
/// Dense float32 vectors addressed by internal offset, in fixed-size segments that are memory-mapped views of one
/// append-only file (or native memory when no file is given). Segments never move once mapped, so readers keep
/// valid pointers while the single writer appends; growth only adds segments.
/// </summary>
/// <remarks>
/// File layout: a 4 KiB header page (<see cref="Magic"/>, <see cref="FormatVersion"/>, dimension, durable count),
/// then vector <c>i</c> at byte <c>HeaderBytes + i·dimension·4</c>, little-endian. The durable count is a
/// high-water mark: vectors below it were flushed to disk before it was written.
/// </remarks>
internal sealed unsafe class VectorStorage : IDisposable
{
    /// <summary>"RVEC" little-endian; frozen by a format test.</summary>
    public const uint Magic = 0x43455652;

    /// <summary>Vector file format version; frozen by a format test.</summary>
    public const int FormatVersion = 1;

    /// <summary>Size of the header page.</summary>
    public const int HeaderBytes = 4096;

    /// <summary>log2 of the vectors per segment (16,384: 24 MiB per segment at 384 dimensions).</summary>
    public const int SegmentShift = 14;

    private const uint SegmentMask = (1u << SegmentShift) - 1;

    private readonly FileStream? _file;
    private readonly List<MemoryMappedFile> _maps = [];
    private readonly List<MemoryMappedViewAccessor> _views = [];
    private readonly List<nint> _native = [];
    private nint[] _segments = [];
    private bool _disposed;

    /// <summary>Floats per vector.</summary>
    public int Dimension { get; }

    /// <summary>Bytes per vector.</summary>
    public int Stride { get; }

    /// <summary>Vectors that fit in the segments mapped so far.</summary>
    public long Capacity => (long)_segments.Length << SegmentShift;

    /// <summary>The high-water mark read from the file header when it was opened (0 for a new or in-memory file).</summary>
    public long DurableCount { get; private set; }

    private VectorStorage(int dimension, FileStream? file)
    {
        Dimension = dimension;
        Stride = dimension * sizeof(float);
        _file = file;
    }

    /// <summary>Vectors kept in native memory (benchmarks, tests).</summary>
    public static VectorStorage InMemory(int dimension)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        return new VectorStorage(dimension, null);
    }

    /// <summary>
    /// Opens or creates the vector file at <paramref name="path"/>. A missing file, a bad header or another dimension
    /// yields an empty file (<see cref="DurableCount"/> 0) and <paramref name="wasValid"/> false: the caller rebuilds
    /// the vectors from its source of truth.
    /// </summary>
    public static VectorStorage OpenFile(string path, int dimension, out bool wasValid)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dimension, 1);
        var file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.RandomAccess);
        var storage = new VectorStorage(dimension, file);
        try
        {
            Span<byte> header = stackalloc byte[24];
            wasValid = file.Length >= HeaderBytes && RandomAccess.Read(file.SafeFileHandle, header, 0) == header.Length
                && BinaryPrimitives.ReadUInt32LittleEndian(header) == Magic
                && BinaryPrimitives.ReadInt32LittleEndian(header[4..]) == FormatVersion
                && BinaryPrimitives.ReadInt32LittleEndian(header[8..]) == dimension;
            long durable = wasValid ? BinaryPrimitives.ReadInt64LittleEndian(header[16..]) : 0;
            if (!wasValid || durable < 0 || HeaderBytes + durable * storage.Stride > file.Length)
            {
                wasValid = false;
                durable = 0;
                file.SetLength(0);
                header.Clear();
                BinaryPrimitives.WriteUInt32LittleEndian(header, Magic);
                BinaryPrimitives.WriteInt32LittleEndian(header[4..], FormatVersion);
                BinaryPrimitives.WriteInt32LittleEndian(header[8..], dimension);
                file.SetLength(HeaderBytes);
                RandomAccess.Write(file.SafeFileHandle, header, 0);
                file.Flush(flushToDisk: true);
            }
            storage.DurableCount = durable;
            long segmentsOnDisk = (file.Length - HeaderBytes + (long)storage.Stride * (1 << SegmentShift) - 1) / ((long)storage.Stride << SegmentShift);
            storage.EnsureCapacity(Math.Max(segmentsOnDisk << SegmentShift, durable));
            return storage;
        }
        catch
        {
            storage.Dispose();
            throw;
        }
    }

    /// <summary>Pointer to vector <paramref name="offset"/>; valid until disposal. The offset must be below <see cref="Capacity"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Pointer(uint offset) => (float*)(_segments[offset >> SegmentShift] + (nint)(offset & SegmentMask) * Stride);

    /// <summary>A consistent view of the segment table for a hot loop (see <see cref="VectorView"/>).</summary>
    public VectorView View() => new(_segments, Stride);

    /// <summary>Maps segments until <paramref name="count"/> vectors fit. Single writer only.</summary>
    public void EnsureCapacity(long count)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (count <= Capacity) return;
        var segments = new List<nint>(_segments);
        long segmentBytes = (long)Stride << SegmentShift;
        while (((long)segments.Count << SegmentShift) < count)
        {
            if (_file is null)
            {
                // huge-page aligned when a segment holds whole huge pages (the hint covers only those)
                nint p = (nint)NativeMemory.AlignedAlloc((nuint)segmentBytes, segmentBytes >= HugePages.Size ? (nuint)HugePages.Size : 64);
                HugePages.Advise((void*)p, segmentBytes);
                NativeMemory.Clear((void*)p, (nuint)segmentBytes);
                _native.Add(p);
                segments.Add(p);
            }
            else
            {
                long start = HeaderBytes + segments.Count * segmentBytes;
                long end = start + segmentBytes;
                if (_file.Length < end) _file.SetLength(end);
                var map = MemoryMappedFile.CreateFromFile(_file, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: true);
                var view = map.CreateViewAccessor(start, segmentBytes, MemoryMappedFileAccess.ReadWrite);
                byte* p = null;
                view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
                HugePages.Advise(p + view.PointerOffset, segmentBytes);
                _maps.Add(map);
                _views.Add(view);
                segments.Add((nint)(p + view.PointerOffset));
            }
        }
        Volatile.Write(ref _segments, [.. segments]);
    }

    /// <summary>Copies <paramref name="vector"/> (exactly <see cref="Dimension"/> floats) to <paramref name="offset"/>.</summary>
    public void Write(uint offset, ReadOnlySpan<float> vector)
    {
        if (vector.Length != Dimension) throw new ArgumentException($"expected {Dimension} floats, got {vector.Length}", nameof(vector));
        if (offset >= Capacity) throw new ArgumentOutOfRangeException(nameof(offset), "offset beyond the mapped capacity");
        vector.CopyTo(new Span<float>(Pointer(offset), Dimension));
    }

    /// <summary>The vector at <paramref name="offset"/> (a view into the mapping; do not keep past disposal).</summary>
    public ReadOnlySpan<float> Get(uint offset) => new(Pointer(offset), Dimension);

    /// <summary>Zeroes vectors [<paramref name="from"/>, <see cref="Capacity"/>); returns how many held non-zero bytes.</summary>
    public long ZeroTail(long from)
    {
        long dirty = 0;
        for (long i = from; i < Capacity; i++)
        {
            var bytes = new Span<byte>(Pointer((uint)i), Stride);
            if (bytes.IndexOfAnyExcept((byte)0) >= 0)
            {
                dirty++;
                bytes.Clear();
            }
        }
        return dirty;
    }

    /// <summary>
    /// Flushes every mapped page to disk (msync), then records <paramref name="durableCount"/> as the high-water
    /// mark in the header and flushes it: after this returns, vectors below the mark survive power loss.
    /// </summary>
    public void Flush(long durableCount)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_file is null) return;
        foreach (var view in _views) view.Flush();
        _file.Flush(flushToDisk: true);
        Span<byte> count = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(count, durableCount);
        RandomAccess.Write(_file.SafeFileHandle, count, 16);
        _file.Flush(flushToDisk: true);
        DurableCount = durableCount;
    }

    /// <summary>Marks the high-water mark as 0 before the vectors at or above <paramref name="from"/> get rewritten.</summary>
    public void LowerDurableCount(long from)
    {
        if (_file is null || from >= DurableCount) return;
        Span<byte> count = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(count, from);
        RandomAccess.Write(_file.SafeFileHandle, count, 16);
        _file.Flush(flushToDisk: true);
        DurableCount = from;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _segments = [];
        foreach (var view in _views)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }
        foreach (var map in _maps) map.Dispose();
        foreach (var p in _native) NativeMemory.AlignedFree((void*)p);
        _file?.Dispose();
    }
}

/// <summary>A snapshot of a <see cref="VectorStorage"/>'s segment table: pointer arithmetic without a field load per access.</summary>
internal readonly unsafe struct VectorView(nint[] segments, int stride)
{
    private readonly nint[] _segments = segments;
    private readonly nint _stride = stride;

    /// <summary>Vectors addressable through this view.</summary>
    public long Capacity => (long)_segments.Length << VectorStorage.SegmentShift;

    /// <summary>Pointer to vector <paramref name="offset"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float* Pointer(uint offset) => (float*)(_segments[offset >> VectorStorage.SegmentShift] + (nint)(offset & ((1u << VectorStorage.SegmentShift) - 1)) * _stride);
}
