using Retro.Engine.Retro;

namespace Retro.Engine.Tests.Retro;

/// <summary>
/// Random F32 weights on a backend, created on first request by name and shape and reused afterwards, so that
/// decoders of different configs (e.g. with and without CCA) share the tensors they have in common.
/// </summary>
internal sealed class RandomRetroModel : IDisposable
{
    private readonly IBackend _backend;
    private readonly Random _rng;
    private readonly Dictionary<string, Tensor> _tensors = [];
    private readonly List<BackendBuffer> _buffers = [];

    public RandomRetroModel(IBackend backend, RetroConfig config, int seed)
    {
        _backend = backend;
        _rng = new Random(seed);
        Bind(config); // create every tensor of the full architecture in a fixed order
    }

    /// <summary>Weights for <paramref name="config"/> (a subset of the architecture given to the constructor).</summary>
    public RetroWeights Bind(RetroConfig config) => RetroWeights.Bind(config, Get);

    private Tensor Get(string name, int rows, int cols)
    {
        if (_tensors.TryGetValue(name, out var t)) return t;
        bool norm = name.EndsWith("norm.weight", StringComparison.Ordinal) || name.EndsWith("norm_f.weight", StringComparison.Ordinal);
        bool bias = rows == 1 && !norm;
        float std = name == "tok_embeddings.weight" ? 1f : bias ? 0.1f : norm ? 0.2f : 0.3f;
        var values = new float[rows * cols];
        for (int i = 0; i < values.Length; i++)
            values[i] = (norm ? 1f : 0f) + std * (float)(_rng.NextDouble() * 2 - 1) * 1.7f;
        var buffer = _backend.Allocate(values.Length * sizeof(float));
        _buffers.Add(buffer);
        t = buffer.AsTensor(DType.F32, rows, cols);
        _backend.Upload<float>(values, t);
        _tensors[name] = t;
        return t;
    }

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
    }
}
