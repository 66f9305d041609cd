using Microsoft.Extensions.Options;
using Retro.Api.Infrastructure;
using Retro.Api.Options;
using Retro.Core;
using Retro.Engine;
using Retro.Engine.Cpu;
using Retro.Engine.Generation;

namespace Retro.Api.Hosting;

/// <summary>
/// The models named by <c>Retro:Models</c>, loaded once on the CPU backend: bi-encoder, optional cross-encoder,
/// RETRO decoder with its tokenizer. Disposed with the container (unmaps the checkpoints).
/// </summary>
internal sealed class RetroModels : IDisposable
{
    private readonly IBackend _backend;
    private readonly List<IDisposable> _owned = [];

    public RetroModels(IOptions<ModelOptions> options, IOptions<ServiceOptions> service, RepositoryPaths paths)
    {
        var models = options.Value;
        _backend = new CpuBackend();
        try
        {
            Encoder = ModelLoaders.LoadEncoder(paths.Resolve(models.Encoder), _backend, _owned);
            Reranker = string.IsNullOrWhiteSpace(models.Reranker) ? null : ModelLoaders.LoadReranker(paths.Resolve(models.Reranker), _backend, _owned);
            Decoder = ModelLoaders.LoadDecoder(paths.Resolve(models.Decoder), _backend, service.Value.DecoderBatchSize, _owned);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ITextEncoder Encoder { get; } = null!;

    public IReranker? Reranker { get; }

    public IRetroDecoder Decoder { get; } = null!;

    public void Dispose()
    {
        for (int i = _owned.Count - 1; i >= 0; i--) _owned[i].Dispose();
        _owned.Clear();
        _backend.Dispose();
    }
}
