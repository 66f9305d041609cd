using Retro.Core;
using Retro.Engine.Generation;
using Retro.Engine.Models;

namespace Retro.Engine.Onnx;

/// <summary>
/// ONNX Runtime as an <see cref="IModelEngine"/>: each folder's export (onnx/, src/training/export_onnx.py) in sessions
/// from <see cref="Sessions"/> on its device (CPU, or CUDA where CUDA 13 is installed).
/// </summary>
public sealed class OnnxEngine(OnnxSessionFactory sessions) : IModelEngine
{
    /// <summary>Where the sessions come from (device and threads).</summary>
    public OnnxSessionFactory Sessions { get; } = sessions ?? throw new ArgumentNullException(nameof(sessions));

    /// <inheritdoc />
    public ITextEncoder LoadEncoder(string folder, int maxBatch = 32) => OnnxTextEncoder.Load(folder, Sessions, maxBatch);

    /// <inheritdoc />
    public IReranker LoadReranker(string folder) => OnnxReranker.Load(folder, Sessions);

    /// <inheritdoc />
    public IRetroDecoder LoadDecoder(string folder, int? maxNeighbours = null, int batchCapacity = 1) =>
        OnnxRetroDecoder.Load(folder, Sessions, maxNeighbours, batchCapacity);

    /// <summary>Nothing to release: each session belongs to the model that created it.</summary>
    public void Dispose() { }
}
