namespace Retro.Engine;

/// <summary>
/// Geometry of one <see cref="IBackend.Attention"/> call. Queries are <c>Batch × QueryLength</c> rows, keys and values
/// <c>Batch × KeyCapacity</c> rows of which the first <c>KeyLength</c> of each batch item are used (a KV cache has
/// capacity ≥ length). Every row holds <c>Heads × HeadDim</c> values, head h at columns [h·HeadDim, (h+1)·HeadDim).
/// </summary>
/// <param name="Batch">Independent sequences (or chunks), ≥ 1.</param>
/// <param name="QueryLength">Query rows per batch item, ≥ 1.</param>
/// <param name="KeyLength">Key rows used per batch item, 0..KeyCapacity.</param>
/// <param name="KeyCapacity">Key rows per batch item in the key/value tensors (the KV cache's length).</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="HeadDim">Values per head.</param>
/// <param name="Scale">Multiplier of q·k before the softmax, usually 1/sqrt(HeadDim).</param>
/// <param name="Causal">When true, query i (absolute position QueryOffset + i) sees only keys j ≤ QueryOffset + i.</param>
/// <param name="QueryOffset">Absolute position of query 0 for the causal mask (the number of cached tokens before it).</param>
public readonly record struct AttentionShape(
    int Batch,
    int QueryLength,
    int KeyLength,
    int KeyCapacity,
    int Heads,
    int HeadDim,
    float Scale,
    bool Causal = false,
    int QueryOffset = 0)
{
    /// <summary>Heads × HeadDim, the width of q, k, v and output rows.</summary>
    public int ModelDim => Heads * HeadDim;
}
