using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Retro.Engine.Checkpoints;
using Retro.Engine.Cpu.Kernels;

namespace Retro.Engine.Cpu;

/// <summary>
/// The CPU backend: host memory, synchronous ops, kernels parallel over rows, columns or heads on a fixed worker
/// pool (one thread per core by default). Supports every op for F32, F16 and BF16 weights. Public ops validate and
/// then call kernels that assume. Thread-safe: concurrent callers share the pool (their ops are serialised).
/// </summary>
public sealed unsafe class CpuBackend : IBackend
{
    private readonly WorkerPool _pool;
    private readonly ConcurrentDictionary<WeightKey, Prepared> _prepared = new();
    private readonly Lock _prepareGate = new();

    /// <summary>A prepared weight view: where it is and how it is shaped (a slice of it is another view).</summary>
    private readonly record struct WeightKey(nint Data, DType Type, int Rows, int Columns, int RowStride);

    /// <summary>A packed weight and the number of handles that keep it.</summary>
    private sealed class Prepared(PackedWeight packed)
    {
        public PackedWeight Packed { get; } = packed;
        public int Handles;
    }

    /// <summary>Creates a backend using <paramref name="threads"/> threads (default: <see cref="Environment.ProcessorCount"/>).</summary>
    public CpuBackend(int threads = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(threads);
        _pool = new WorkerPool(threads == 0 ? Environment.ProcessorCount : threads);
    }

    /// <inheritdoc />
    public string Name => "cpu";

    /// <summary>Threads the kernels use (the caller's included).</summary>
    public int Threads => _pool.Parallelism;

    /// <inheritdoc />
    public bool Supports(BackendOp op, DType weightType = DType.F32) => DTypes.IsFloat(weightType) && Enum.IsDefined(op);

    /// <inheritdoc />
    public BackendBuffer Allocate(long byteLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(byteLength);
        return new CpuBuffer(this, byteLength);
    }

    /// <inheritdoc />
    public Tensor Weights(CheckpointTensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        return new Tensor(tensor.Address, tensor.Type, tensor.Rows, tensor.Columns, tensor.Columns);
    }

    /// <inheritdoc />
    public void Upload<T>(ReadOnlySpan<T> source, Tensor destination) where T : unmanaged
    {
        CheckElementSize<T>(destination, nameof(destination));
        if (source.Length != destination.ElementCount)
            throw new ArgumentException($"source has {source.Length} values, destination {destination} holds {destination.ElementCount}", nameof(source));
        for (int r = 0; r < destination.Rows; r++)
            source.Slice(r * destination.Columns, destination.Columns).CopyTo(Row<T>(destination, r));
    }

    /// <inheritdoc />
    public void Download<T>(Tensor source, Span<T> destination) where T : unmanaged
    {
        CheckElementSize<T>(source, nameof(source));
        if (destination.Length < source.ElementCount)
            throw new ArgumentException($"destination has {destination.Length} values, source {source} needs {source.ElementCount}", nameof(destination));
        for (int r = 0; r < source.Rows; r++)
            Row<T>(source, r).CopyTo(destination.Slice(r * source.Columns, source.Columns));
    }

    /// <inheritdoc />
    public void Synchronize()
    {
    }

    // ---------------------------------------------------------------- ops

    /// <inheritdoc />
    /// <remarks>The bias may be stored F32, F16 or BF16.</remarks>
    public void MatMul(Tensor x, Tensor w, Tensor bias, Tensor y, MatMulEpilogue epilogue = MatMulEpilogue.Store)
    {
        RequireF32(x, nameof(x));
        RequireF32(y, nameof(y));
        if (!DTypes.IsFloat(w.Type)) throw new ArgumentException($"weight {w} must be F32, F16 or BF16", nameof(w));
        Require(!w.IsEmpty, nameof(w), "weight is empty");
        Require(x.Columns == w.Columns, nameof(w), $"x {x} and w {w} disagree on K");
        Require(y.Rows == x.Rows && y.Columns == w.Rows, nameof(y), $"y {y} must be {x.Rows}x{w.Rows} for x {x}, w {w}");
        if (!bias.IsEmpty) RequireVector(bias, w.Rows, nameof(bias));
        Require(!Overlaps(x, y), nameof(y), "y must not alias x");
        if (!Enum.IsDefined(epilogue)) throw new ArgumentOutOfRangeException(nameof(epilogue));
        var a = new Gemm.Args
        {
            X = (float*)x.Data, Ldx = x.RowStride,
            W = (void*)w.Data, Ldw = w.RowStride, WType = w.Type,
            Bias = bias.IsEmpty ? null : AsF32(bias, ref t_bias),
            Y = (float*)y.Data, Ldy = y.RowStride,
            M = x.Rows, N = w.Rows, K = x.Columns,
            Epilogue = epilogue,
        };
        if (!_prepared.IsEmpty && _prepared.TryGetValue(new WeightKey(w.Data, w.Type, w.Rows, w.Columns, w.RowStride), out var prepared))
            PackedGemm.Run(_pool, a, prepared.Packed);
        else
            Gemm.Run(_pool, a);
    }

    /// <inheritdoc />
    /// <remarks>
    /// On AVX-512 hosts BF16 and F32 weights are packed into 64-column blocks (<see cref="PackedWeight"/>: the weight's
    /// bytes again, in native memory) and every <see cref="MatMul"/> with this exact view runs the packed kernel, at
    /// any number of rows; elsewhere, and for F16, nothing is kept. Preparing a view twice shares one packing.
    /// </remarks>
    public IDisposable PrepareWeight(Tensor w)
    {
        if (w.IsEmpty || w.Rows == 0 || w.Columns == 0 || !PackedWeight.Supported(w.Type)) return NoPreparedWeight.Instance;
        var key = new WeightKey(w.Data, w.Type, w.Rows, w.Columns, w.RowStride);
        lock (_prepareGate)
        {
            if (!_prepared.TryGetValue(key, out var prepared))
            {
                prepared = new Prepared(PackedWeight.Pack((void*)w.Data, w.Type, w.Rows, w.Columns, w.RowStride));
                _prepared[key] = prepared;
            }
            prepared.Handles++;
        }
        return new PreparedHandle(this, key);
    }

    /// <summary>Packed weights held (for tests).</summary>
    internal int PreparedCount => _prepared.Count;

    private void Release(WeightKey key)
    {
        lock (_prepareGate)
        {
            if (!_prepared.TryGetValue(key, out var prepared) || --prepared.Handles > 0) return;
            _prepared.TryRemove(key, out _);
            prepared.Packed.Dispose();
        }
    }

    private sealed class PreparedHandle(CpuBackend backend, WeightKey key) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) backend.Release(key);
        }
    }

    /// <inheritdoc />
    /// <remarks>gamma and beta may be stored F32, F16 or BF16.</remarks>
    public void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y)
    {
        RequireSameShape(x, y);
        RequireVector(gamma, x.Columns, nameof(gamma));
        RequireVector(beta, x.Columns, nameof(beta));
        Require(eps >= 0 && float.IsFinite(eps), nameof(eps), "eps must be finite and non-negative");
        var a = Rows(RowOps.Kind.LayerNorm, x, y);
        a.B = AsF32(gamma, ref t_gamma);
        a.Beta = AsF32(beta, ref t_beta);
        a.Eps = eps;
        RowOps.Run(_pool, a);
    }

    /// <inheritdoc />
    public void Gelu(Tensor x, Tensor y) => Unary(RowOps.Kind.Gelu, x, y);

    /// <inheritdoc />
    public void Tanh(Tensor x, Tensor y) => Unary(RowOps.Kind.Tanh, x, y);

    /// <inheritdoc />
    public void Softmax(Tensor x, Tensor y) => Unary(RowOps.Kind.Softmax, x, y);

    /// <inheritdoc />
    public void L2Normalize(Tensor x, Tensor y) => Unary(RowOps.Kind.L2Normalize, x, y);

    /// <inheritdoc />
    public void Add(Tensor a, Tensor b, Tensor y)
    {
        RequireSameShape(a, y);
        RequireF32(b, nameof(b));
        bool broadcast = b.Rows == 1 && a.Rows != 1;
        Require(b.Columns == a.Columns && (broadcast || b.Rows == a.Rows), nameof(b), $"b {b} must match a {a} or be one row");
        var args = Rows(broadcast ? RowOps.Kind.AddBroadcast : RowOps.Kind.Add, a, y);
        args.B = (float*)b.Data;
        args.Ldb = b.RowStride;
        RowOps.Run(_pool, args);
    }

    /// <inheritdoc />
    public void Rope(Tensor x, Tensor positions, int heads, int headDim, float theta)
    {
        RequireF32(x, nameof(x));
        Require(heads > 0 && headDim > 0 && headDim % 2 == 0, nameof(headDim), "heads must be positive and headDim positive and even");
        Require(heads * headDim <= x.Columns, nameof(heads), $"heads·headDim = {heads * headDim} exceeds x {x}");
        RequireInts(positions, x.Rows, nameof(positions));
        Require(theta > 0 && float.IsFinite(theta), nameof(theta), "theta must be positive");
        var a = Rows(RowOps.Kind.Rope, x, x);
        a.Ints = (int*)positions.Data;
        a.Heads = heads;
        a.HeadDim = headDim;
        a.Eps = theta;
        RowOps.Run(_pool, a);
    }

    /// <inheritdoc />
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor output, in AttentionShape shape, Tensor sinks = default) =>
        Kernels.Attention.Run(_pool, AttentionArgs(q, k, v, keyMask, output, shape, sinks));

    /// <inheritdoc />
    /// <remarks>Every item is validated before any runs; then one parallel job covers every (item, batch, head) part.</remarks>
    public void AttentionBatch(ReadOnlySpan<AttentionItem> items)
    {
        if (items.IsEmpty) return;
        if (t_attention is null || t_attention.Length < items.Length) t_attention = new Kernels.Attention.Args[Math.Max(items.Length, 16)];
        for (int i = 0; i < items.Length; i++)
        {
            var it = items[i];
            t_attention[i] = AttentionArgs(it.Q, it.K, it.V, it.KeyMask, it.Output, it.Shape, it.Sinks);
        }
        Kernels.Attention.RunMany(_pool, t_attention, items.Length);
    }

    [ThreadStatic] private static Kernels.Attention.Args[]? t_attention;

    private static Kernels.Attention.Args AttentionArgs(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor output, in AttentionShape shape,
        Tensor sinks)
    {
        var s = shape;
        Require(s.Batch > 0 && s.QueryLength > 0 && s.Heads > 0 && s.HeadDim > 0, nameof(shape), $"{s}: sizes must be positive");
        Require(s.KeyLength >= 0 && s.KeyLength <= s.KeyCapacity, nameof(shape), $"{s}: KeyLength must be in 0..KeyCapacity");
        Require(s.QueryOffset >= 0 && float.IsFinite(s.Scale), nameof(shape), $"{s}: QueryOffset must be ≥ 0, Scale finite");
        RequireF32(q, nameof(q)); RequireF32(k, nameof(k)); RequireF32(v, nameof(v)); RequireF32(output, nameof(output));
        int d = s.ModelDim;
        Require(q.Rows == s.Batch * s.QueryLength && q.Columns >= d, nameof(q), $"q {q} must be {s.Batch * s.QueryLength}x{d}");
        Require(output.Rows == q.Rows && output.Columns >= d, nameof(output), $"output {output} must be {q.Rows}x{d}");
        Require(k.Rows == s.Batch * s.KeyCapacity && k.Columns >= d, nameof(k), $"k {k} must be {s.Batch * s.KeyCapacity}x{d}");
        Require(v.Rows == k.Rows && v.Columns >= d, nameof(v), $"v {v} must be {k.Rows}x{d}");
        int maskStride = 0;
        if (!keyMask.IsEmpty)
        {
            // Batch × KeyCapacity, or any contiguous tensor of that many values (e.g. k neighbours × r tokens)
            bool asRows = keyMask.Rows == s.Batch && keyMask.Columns >= s.KeyLength;
            bool flat = keyMask.IsContiguous && keyMask.ElementCount == (long)s.Batch * s.KeyCapacity;
            Require(keyMask.Type == DType.I32 && (asRows || flat), nameof(keyMask),
                $"keyMask {keyMask} must be I32 {s.Batch}x{s.KeyCapacity} (or that many contiguous values)");
            maskStride = asRows ? keyMask.RowStride : s.KeyCapacity;
        }
        Require(!Overlaps(output, q) && !Overlaps(output, k) && !Overlaps(output, v), nameof(output), "output must not alias q, k or v");
        if (!sinks.IsEmpty)
        {
            RequireF32(sinks, nameof(sinks));
            Require(sinks.IsContiguous && sinks.ElementCount == s.Heads, nameof(sinks), $"sinks {sinks} must be {s.Heads} contiguous values");
        }
        return new Kernels.Attention.Args
        {
            Q = (float*)q.Data, Ldq = q.RowStride,
            K = (float*)k.Data, Ldk = k.RowStride,
            V = (float*)v.Data, Ldv = v.RowStride,
            Mask = (int*)keyMask.Data, Ldm = maskStride,
            O = (float*)output.Data, Ldo = output.RowStride,
            Sinks = sinks.IsEmpty ? null : (float*)sinks.Data,
            Shape = s,
        };
    }

    /// <inheritdoc />
    public void Embedding(Tensor table, Tensor ids, Tensor y, bool accumulate = false)
    {
        if (!DTypes.IsFloat(table.Type)) throw new ArgumentException($"table {table} must be F32, F16 or BF16", nameof(table));
        RequireF32(y, nameof(y));
        Require(table.Columns == y.Columns, nameof(y), $"y {y} and table {table} disagree on width");
        RequireInts(ids, y.Rows, nameof(ids));
        var span = new ReadOnlySpan<int>((void*)ids.Data, y.Rows);
        for (int i = 0; i < span.Length; i++)
        {
            if ((uint)span[i] >= (uint)table.Rows)
                throw new ArgumentOutOfRangeException(nameof(ids), $"id {span[i]} at {i} is outside the table's {table.Rows} rows");
        }
        var a = new RowOps.Args
        {
            Kind = accumulate ? RowOps.Kind.EmbeddingAccumulate : RowOps.Kind.Embedding,
            Rows = y.Rows, Columns = y.Columns,
            X = (void*)table.Data, Ldx = table.RowStride, XType = table.Type,
            Ints = (int*)ids.Data,
            Y = (float*)y.Data, Ldy = y.RowStride,
        };
        RowOps.Run(_pool, a);
    }

    /// <inheritdoc />
    public void Copy(Tensor x, Tensor y)
    {
        if (!DTypes.IsFloat(x.Type)) throw new ArgumentException($"x {x} must be F32, F16 or BF16", nameof(x));
        RequireF32(y, nameof(y));
        Require(x.Rows == y.Rows && x.Columns == y.Columns, nameof(y), $"y {y} must have x's shape {x}");
        var a = new RowOps.Args
        {
            Kind = RowOps.Kind.Copy, Rows = x.Rows, Columns = x.Columns,
            X = (void*)x.Data, Ldx = x.RowStride, XType = x.Type,
            Y = (float*)y.Data, Ldy = y.RowStride,
        };
        RowOps.Run(_pool, a);
    }

    /// <inheritdoc />
    public void MaskedMeanPool(Tensor x, Tensor mask, Tensor y)
    {
        RequireF32(x, nameof(x));
        RequireF32(y, nameof(y));
        Require(mask.Type == DType.I32 && mask.Rows == y.Rows, nameof(mask), $"mask {mask} must be I32 with y's {y.Rows} rows");
        Require(x.Rows == mask.Rows * mask.Columns && x.Columns == y.Columns, nameof(x), $"x {x} must be {mask.Rows * mask.Columns}x{y.Columns}");
        Require(!Overlaps(x, y), nameof(y), "y must not alias x");
        var a = new RowOps.Args
        {
            Kind = RowOps.Kind.MeanPool, Rows = y.Rows, Columns = y.Columns,
            X = (void*)x.Data, Ldx = x.RowStride, XType = DType.F32,
            Ints = (int*)mask.Data, Ldi = mask.RowStride,
            Y = (float*)y.Data, Ldy = y.RowStride,
            SequenceLength = mask.Columns,
        };
        RowOps.Run(_pool, a);
    }

    /// <summary>Stops the worker threads.</summary>
    public void Dispose()
    {
        _pool.Dispose();
        lock (_prepareGate)
        {
            foreach (var p in _prepared.Values) p.Packed.Dispose();
            _prepared.Clear();
        }
    }

    // ---------------------------------------------------------------- validation

    private void Unary(RowOps.Kind kind, Tensor x, Tensor y)
    {
        RequireSameShape(x, y);
        RowOps.Run(_pool, Rows(kind, x, y));
    }

    private static RowOps.Args Rows(RowOps.Kind kind, Tensor x, Tensor y) => new()
    {
        Kind = kind, Rows = x.Rows, Columns = x.Columns,
        X = (void*)x.Data, Ldx = x.RowStride, XType = DType.F32,
        Y = (float*)y.Data, Ldy = y.RowStride,
    };

    private static void RequireSameShape(Tensor x, Tensor y)
    {
        RequireF32(x, nameof(x));
        RequireF32(y, nameof(y));
        Require(x.Rows == y.Rows && x.Columns == y.Columns, nameof(y), $"y {y} must have x's shape {x}");
        Require(x.Data == y.Data && x.RowStride == y.RowStride || !Overlaps(x, y), nameof(y), "y must be x itself or not overlap it");
    }

    // parameter vectors (bias, gamma, beta) may be stored F32, F16 or BF16
    private static void RequireVector(Tensor t, int columns, string name)
    {
        if (t.IsEmpty) throw new ArgumentException($"{name} is empty", name);
        if (!DTypes.IsFloat(t.Type)) throw new ArgumentException($"{name} {t} must be F32, F16 or BF16", name);
        Require(t.Rows == 1 && t.Columns == columns, name, $"{name} {t} must be 1x{columns}");
    }

    [ThreadStatic] private static float[]? t_gamma;
    [ThreadStatic] private static float[]? t_beta;
    [ThreadStatic] private static float[]? t_bias;

    // F32 vectors as they are; F16/BF16 converted into the calling thread's scratch (pinned: allocated on the POH)
    private static float* AsF32(Tensor t, ref float[]? scratch)
    {
        if (t.Type == DType.F32) return (float*)t.Data;
        if (scratch is null || scratch.Length < t.Columns) scratch = GC.AllocateUninitializedArray<float>(Math.Max(t.Columns, 1024), pinned: true);
        if (t.Type == DType.BF16)
        {
            ushort* s = (ushort*)t.Data;
            for (int i = 0; i < t.Columns; i++) scratch[i] = BitConverter.Int32BitsToSingle(s[i] << 16);
        }
        else
        {
            Half* s = (Half*)t.Data;
            for (int i = 0; i < t.Columns; i++) scratch[i] = (float)s[i];
        }
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(scratch));
    }

    private static void RequireInts(Tensor t, int count, string name)
    {
        Require(t.Type == DType.I32 && !t.IsEmpty, name, $"{name} {t} must be I32");
        Require(t.IsContiguous && t.ElementCount == count, name, $"{name} {t} must hold {count} contiguous values");
    }

    private static void RequireF32(Tensor t, string name)
    {
        if (t.IsEmpty) throw new ArgumentException($"{name} is empty", name);
        if (t.Type != DType.F32) throw new ArgumentException($"{name} {t} must be F32", name);
    }

    private static void Require([DoesNotReturnIf(false)] bool condition, string name, string message)
    {
        if (!condition) throw new ArgumentException(message, name);
    }

    /// <summary>As above, but the interpolated message is formatted only when the check fails: every op validates its
    /// arguments on every call, and formatting shapes and tensors there cost ~1% of the CPU in the serve profile.</summary>
    private static void Require([DoesNotReturnIf(false)] bool condition, string name,
        [InterpolatedStringHandlerArgument(nameof(condition))] ref FailureMessage message)
    {
        if (!condition) throw new ArgumentException(message.ToStringAndClear(), name);
    }

    /// <summary>An interpolated-string handler that appends nothing while its condition holds (as Debug.Assert's).</summary>
    [InterpolatedStringHandler]
    private ref struct FailureMessage
    {
        private DefaultInterpolatedStringHandler _text;

        public FailureMessage(int literalLength, int formattedCount, bool condition, out bool shouldAppend)
        {
            shouldAppend = !condition;
            _text = condition ? default : new DefaultInterpolatedStringHandler(literalLength, formattedCount);
        }

        public void AppendLiteral(string value) => _text.AppendLiteral(value);

        public void AppendFormatted<T>(T value) => _text.AppendFormatted(value);

        public void AppendFormatted<T>(T value, string? format) => _text.AppendFormatted(value, format);

        public string ToStringAndClear() => _text.ToStringAndClear();
    }

    private static bool Overlaps(Tensor a, Tensor b)
    {
        if (a.IsEmpty || b.IsEmpty || a.ElementCount == 0 || b.ElementCount == 0) return false;
        long aEnd = a.Data + ((long)(a.Rows - 1) * a.RowStride + a.Columns) * DTypes.SizeOf(a.Type);
        long bEnd = b.Data + ((long)(b.Rows - 1) * b.RowStride + b.Columns) * DTypes.SizeOf(b.Type);
        return a.Data < bEnd && b.Data < aEnd;
    }

    private static void CheckElementSize<T>(Tensor t, string name) where T : unmanaged
    {
        if (t.IsEmpty) throw new ArgumentException($"{name} is empty", name);
        if (sizeof(T) != DTypes.SizeOf(t.Type))
            throw new ArgumentException($"{name} {t} cannot be read as {typeof(T).Name}", name);
    }

    private static Span<T> Row<T>(Tensor t, int r) where T : unmanaged =>
        new((void*)(t.Data + (nint)((long)r * t.RowStride * sizeof(T))), t.Columns);
}
