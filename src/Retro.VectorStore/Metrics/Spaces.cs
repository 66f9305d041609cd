using System.Runtime.CompilerServices;
using Retro.Core;
using Retro.VectorStore.Vectors;

namespace Retro.VectorStore.Metrics;

/// <summary>
/// Distance from one query to stored nodes, lower is closer. Implemented by structs so that the generic HNSW
/// walk is specialised and the kernel inlined per space.
/// </summary>
internal interface IQueryDistance
{
    /// <summary>Distance from the query to <paramref name="node"/>.</summary>
    float Distance(uint node);

    /// <summary>Hints the CPU to fetch the first lines of <paramref name="node"/>'s vector.</summary>
    void Prefetch(uint node);

    /// <summary>Hints the CPU to fetch all of <paramref name="node"/>'s vector (the next one to be compared).</summary>
    void PrefetchAll(uint node);
}

/// <summary>Internal distance of a metric: -dot for Cosine (unit vectors) and Dot, squared L2 for Euclid.</summary>
internal static unsafe class Space
{
    /// <summary>Distance between two float vectors (lower is closer): squared L2 when <paramref name="euclid"/>, else -dot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Distance(bool euclid, float* a, float* b, int n) => euclid ? VectorMath.L2Squared(a, b, n) : -VectorMath.Dot(a, b, n);

    /// <summary>The public score (higher is closer) of an internal distance.</summary>
    public static float ToScore(float distance) => -distance;

    /// <summary>Whether the metric uses squared L2 internally.</summary>
    public static bool IsEuclid(DistanceMetric metric) => metric == DistanceMetric.Euclid;
}

/// <summary>Float32 query against float32 vectors.</summary>
internal readonly unsafe struct FloatQuery(float* query, VectorView view, int dimension, bool euclid) : IQueryDistance
{
    private readonly float* _query = query;
    private readonly VectorView _view = view;
    private readonly int _dimension = dimension;
    private readonly bool _euclid = euclid;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Distance(uint node) => Space.Distance(_euclid, _query, _view.Pointer(node), _dimension);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(uint node) => VectorMath.Prefetch(_view.Pointer(node));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchAll(uint node) => VectorMath.PrefetchRange(_view.Pointer(node), _dimension * sizeof(float));
}

/// <summary>
/// A query against int8 codes: dot(q, x) ≈ Σ q·min + Σ (q·scale)·code, and for Euclid |q - x|² = |q|² - 2·dot + |x̂|²
/// with |x̂|² of the decoded vector precomputed per node. Where AVX-VNNI exists, q·scale is itself quantized to signed
/// 8 bits (<see cref="QuantizedVectors.QuantizeQuery"/>) and Σ (q·scale)·code ≈ step · Σ qcode·code runs in integers;
/// elsewhere the float query meets the widened codes.
/// </summary>
internal readonly unsafe struct Int8Query(float* scaledQuery, sbyte* queryCodes, float queryStep, float queryOffset, float queryNormSquared,
    QuantizedVectors codes, bool euclid) : IQueryDistance
{
    private readonly float* _scaled = scaledQuery;
    private readonly sbyte* _queryCodes = queryCodes;
    private readonly float _step = queryStep;
    private readonly float _offset = queryOffset;
    private readonly float _qq = queryNormSquared;
    private readonly QuantizedVectors _codes = codes;
    private readonly bool _euclid = euclid;

    /// <summary>Whether this host runs the all-integer kernel (then callers pass the query's codes and step).</summary>
    public static bool IntegerKernel => System.Runtime.Intrinsics.X86.AvxVnni.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public float Distance(uint node)
    {
        float dot = IntegerKernel
            ? _offset + _step * VectorMath.DotU8S8(_queryCodes, _codes.Pointer(node), _codes.Dimension)
            : _offset + VectorMath.DotU8(_scaled, _codes.Pointer(node), _codes.Dimension);
        return _euclid ? _qq - 2f * dot + _codes.NormSquared(node) : -dot;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Prefetch(uint node) => VectorMath.Prefetch(_codes.Pointer(node));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PrefetchAll(uint node) => VectorMath.PrefetchRange(_codes.Pointer(node), _codes.Dimension);
}
