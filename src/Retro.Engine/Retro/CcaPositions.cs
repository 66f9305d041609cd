namespace Retro.Engine.Retro;

/// <summary>Positional encoding inside the RETRO cross-attentions (<c>cca_positions</c> in <c>config.json</c>).</summary>
public enum CcaPositions
{
    /// <summary>No positions: content-only cross-attention (checkpoints written before the key existed).</summary>
    None = 0,

    /// <summary>RoPE: CCA queries at m−1 + i of the shifted chunk, neighbour keys at 0..r−1; encoder cross-attention t vs j.</summary>
    Rope = 1,
}
