namespace Retro.Engine;

/// <summary>What <see cref="IBackend.MatMul"/> does with each result z = x·wᵀ + bias before it lands in y.</summary>
public enum MatMulEpilogue
{
    /// <summary>y = z.</summary>
    Store,
    /// <summary>y = y + z (a residual connection fused into the projection).</summary>
    Accumulate,
    /// <summary>y = gelu(z), exact (erf) GELU.</summary>
    Gelu,
}
