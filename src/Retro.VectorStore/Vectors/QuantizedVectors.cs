using System.Runtime.CompilerServices;
using Retro.VectorStore.Metrics;

namespace Retro.VectorStore.Vectors;

/// <summary>
/// Per-dimension int8 scalar quantization: code = round((x - min) / scale), scale = (max - min) / 255, with min and
/// max learned from a sample. Codes live in pinned segments (stable pointers while the single writer appends). Derived
/// state: rebuilt from the float vectors on open, never persisted.
/// </summary>
internal sealed unsafe class QuantizedVectors
{
    private readonly float[] _min;
    private readonly float[] _scale;
    private byte[][] _segments = [];
    private float[][] _norms = [];

    /// <summary>Bytes (dimensions) per code.</summary>
    public int Dimension { get; }

    /// <summary>Number of vectors the ranges were learned from.</summary>
    public long TrainedOn { get; }

    private QuantizedVectors(float[] min, float[] scale, long trainedOn)
    {
        _min = min;
        _scale = scale;
        Dimension = min.Length;
        TrainedOn = trainedOn;
    }

    /// <summary>Learns per-dimension ranges from vectors [0, <paramref name="count"/>) of <paramref name="storage"/> (strided sample).</summary>
    public static QuantizedVectors Train(VectorStorage storage, long count)
    {
        int d = storage.Dimension;
        var min = new float[d];
        var max = new float[d];
        min.AsSpan().Fill(float.PositiveInfinity);
        max.AsSpan().Fill(float.NegativeInfinity);
        long step = Math.Max(1, count / 100_000);
        for (long i = 0; i < count; i += step)
        {
            var v = storage.Get((uint)i);
            for (int j = 0; j < d; j++)
            {
                if (v[j] < min[j]) min[j] = v[j];
                if (v[j] > max[j]) max[j] = v[j];
            }
        }
        var scale = new float[d];
        for (int j = 0; j < d; j++)
        {
            if (!float.IsFinite(min[j]) || !float.IsFinite(max[j])) { min[j] = -1f; max[j] = 1f; }
            // A small margin: vectors appended after training rarely exceed the learned range (they clamp if they do).
            float margin = 0.02f * (max[j] - min[j]) + 1e-6f;
            min[j] -= margin;
            scale[j] = (max[j] + margin - min[j]) / 255f;
        }
        return new QuantizedVectors(min, scale, count);
    }

    /// <summary>Pointer to the codes of <paramref name="node"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public byte* Pointer(uint node)
    {
        byte[] segment = _segments[node >> VectorStorage.SegmentShift];
        return (byte*)Unsafe.AsPointer(ref segment[(int)(node & ((1u << VectorStorage.SegmentShift) - 1)) * Dimension]);
    }

    /// <summary>Squared norm of the decoded vector of <paramref name="node"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float NormSquared(uint node) => _norms[node >> VectorStorage.SegmentShift][node & ((1u << VectorStorage.SegmentShift) - 1)];

    /// <summary>Encodes vectors [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="storage"/>. Single writer.</summary>
    public void Encode(VectorStorage storage, long from, long to)
    {
        EnsureCapacity(to);
        Span<float> decoded = Dimension <= 4096 ? stackalloc float[Dimension] : new float[Dimension];
        for (long i = from; i < to; i++)
        {
            var v = storage.Get((uint)i);
            byte* codes = Pointer((uint)i);
            float norm = 0;
            for (int j = 0; j < Dimension; j++)
            {
                float c = MathF.Round((v[j] - _min[j]) / _scale[j]);
                c = Math.Clamp(c, 0f, 255f);
                codes[j] = (byte)c;
                decoded[j] = _min[j] + c * _scale[j];
                norm += decoded[j] * decoded[j];
            }
            _norms[i >> VectorStorage.SegmentShift][i & ((1 << VectorStorage.SegmentShift) - 1)] = norm;
        }
    }

    /// <summary>
    /// Prepares a query: <paramref name="scaled"/>[j] = q[j]·scale[j]; returns Σ q[j]·min[j] (the dot product's
    /// offset) and the query's squared norm in <paramref name="normSquared"/>.
    /// </summary>
    public float PrepareQuery(ReadOnlySpan<float> query, Span<float> scaled, out float normSquared)
    {
        float offset = 0, nn = 0;
        for (int j = 0; j < Dimension; j++)
        {
            scaled[j] = query[j] * _scale[j];
            offset += query[j] * _min[j];
            nn += query[j] * query[j];
        }
        normSquared = nn;
        return offset;
    }

    /// <summary>
    /// Quantizes a prepared query (<paramref name="scaled"/>, from <see cref="PrepareQuery"/>) to signed 8 bits for
    /// the all-integer kernel: <paramref name="codes"/>[j] = round(scaled[j] / step) in [-127, 127]; returns step, so
    /// that Σ scaled[j]·c[j] ≈ step · Σ codes[j]·c[j]. The query's rounding (at most step / 2 per dimension, step =
    /// max |scaled| / 127) is of the order of the points' own; the float rescoring that follows removes both.
    /// </summary>
    public float QuantizeQuery(ReadOnlySpan<float> scaled, Span<sbyte> codes)
    {
        float max = 0;
        for (int j = 0; j < Dimension; j++) max = Math.Max(max, Math.Abs(scaled[j]));
        if (max == 0 || !float.IsFinite(max))
        {
            codes[..Dimension].Clear();
            return 0;
        }
        float step = max / 127f;
        for (int j = 0; j < Dimension; j++) codes[j] = (sbyte)Math.Clamp(MathF.Round(scaled[j] / step), -127f, 127f);
        return step;
    }

    private void EnsureCapacity(long count)
    {
        long capacity = (long)_segments.Length << VectorStorage.SegmentShift;
        if (count <= capacity) return;
        var segments = new List<byte[]>(_segments);
        var norms = new List<float[]>(_norms);
        while (((long)segments.Count << VectorStorage.SegmentShift) < count)
        {
            segments.Add(GC.AllocateArray<byte>(Dimension << VectorStorage.SegmentShift, pinned: true));
            norms.Add(new float[1 << VectorStorage.SegmentShift]);
        }
        // Norms first: a reader that sees a new code segment must also see its norms.
        Volatile.Write(ref _norms, [.. norms]);
        Volatile.Write(ref _segments, [.. segments]);
    }
}
