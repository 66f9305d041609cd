namespace Retro.Engine;

/// <summary>Operations of <see cref="IBackend"/>, for <see cref="IBackend.Supports"/> (ggml style: unsupported ops fall back to CPU).</summary>
public enum BackendOp
{
    /// <summary><see cref="IBackend.MatMul"/>.</summary>
    MatMul,
    /// <summary><see cref="IBackend.LayerNorm"/>.</summary>
    LayerNorm,
    /// <summary><see cref="IBackend.Gelu"/>.</summary>
    Gelu,
    /// <summary><see cref="IBackend.Tanh"/>.</summary>
    Tanh,
    /// <summary><see cref="IBackend.Add"/>.</summary>
    Add,
    /// <summary><see cref="IBackend.Softmax"/>.</summary>
    Softmax,
    /// <summary><see cref="IBackend.Rope"/>.</summary>
    Rope,
    /// <summary><see cref="IBackend.Attention"/>.</summary>
    Attention,
    /// <summary><see cref="IBackend.Embedding"/>.</summary>
    Embedding,
    /// <summary><see cref="IBackend.Copy"/>.</summary>
    Copy,
    /// <summary><see cref="IBackend.MaskedMeanPool"/>.</summary>
    MaskedMeanPool,
    /// <summary><see cref="IBackend.L2Normalize"/>.</summary>
    L2Normalize,
}
