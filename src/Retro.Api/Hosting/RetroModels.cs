using Microsoft.Extensions.Options;
using Retro.Api.Infrastructure;
using Retro.Api.Options;
using Retro.Core;
using Retro.Engine;
using Retro.Engine.Cpu;
using Retro.Engine.Generation;
using Retro.Engine.Onnx;

namespace Retro.Api.Hosting;

/// <summary>
/// The models named by <c>Retro:Models</c>, loaded once on the engine of <c>Retro:Engine</c> (the managed CPU backend,
/// or ONNX Runtime on the CPU or CUDA execution provider): bi-encoder, optional cross-encoder, RETRO decoder with its
/// tokenizer. Disposed with the container (unmaps the checkpoints, releases the sessions).
/// </summary>
internal sealed class RetroModels : IDisposable
{
    private readonly IBackend? _backend;
    private readonly List<IDisposable> _owned = [];

    public RetroModels(IOptions<ModelOptions> options, IOptions<ServiceOptions> service, IOptions<EngineOptions> engine, RepositoryPaths paths)
    {
        var models = options.Value;
        var e = engine.Value;
        string encoder = paths.Resolve(models.Encoder), decoder = paths.Resolve(models.Decoder);
        string? reranker = string.IsNullOrWhiteSpace(models.Reranker) ? null : paths.Resolve(models.Reranker);
        int batch = service.Value.DecoderBatchSize;
        try
        {
            if (e.Backend == EngineBackend.Onnx)
            {
                var factory = new OnnxSessionFactory(string.Equals(e.Device, "cuda", StringComparison.OrdinalIgnoreCase) ? OnnxDevice.Cuda : OnnxDevice.Cpu, e.Threads);
                Encoder = ModelLoaders.LoadEncoder(encoder, factory, _owned);
                Reranker = reranker is null ? null : ModelLoaders.LoadReranker(reranker, factory, _owned);
                Decoder = ModelLoaders.LoadDecoder(decoder, factory, batch, _owned);
            }
            else
            {
                _backend = new CpuBackend(e.Threads);
                Encoder = ModelLoaders.LoadEncoder(encoder, _backend, _owned);
                Reranker = reranker is null ? null : ModelLoaders.LoadReranker(reranker, _backend, _owned);
                Decoder = ModelLoaders.LoadDecoder(decoder, _backend, batch, _owned);
            }
            Backend = e.Backend == EngineBackend.Onnx ? $"onnx/{e.Device.ToLowerInvariant()}" : "managed/cpu";
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>"managed/cpu", "onnx/cpu" or "onnx/cuda".</summary>
    public string Backend { get; } = "";

    public ITextEncoder Encoder { get; } = null!;

    public IReranker? Reranker { get; }

    public IRetroDecoder Decoder { get; } = null!;

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
        _backend?.Dispose();
    }
}
