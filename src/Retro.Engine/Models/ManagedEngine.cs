using Retro.Core;
using Retro.Engine.Bert;
using Retro.Engine.Generation;

namespace Retro.Engine.Models;

/// <summary>The managed engine: safetensors mapped as they are, every op on <see cref="Backend"/> (owned: disposed with this).</summary>
public sealed class ManagedEngine(IBackend backend) : IModelEngine
{
    /// <summary>The backend every model runs on.</summary>
    public IBackend Backend { get; } = backend ?? throw new ArgumentNullException(nameof(backend));

    /// <inheritdoc />
    public ITextEncoder LoadEncoder(string folder, int maxBatch = 32) => BertTextEncoder.Load(folder, Backend, maxBatch);

    /// <inheritdoc />
    public IReranker LoadReranker(string folder) => BertReranker.Load(folder, Backend);

    /// <inheritdoc />
    public IRetroDecoder LoadDecoder(string folder, int? maxNeighbours = null, int batchCapacity = 1) =>
        RetroDecoderAdapter.Load(folder, Backend, maxNeighbours, batchCapacity);

    /// <summary>Releases the backend.</summary>
    public void Dispose() => Backend.Dispose();
}
