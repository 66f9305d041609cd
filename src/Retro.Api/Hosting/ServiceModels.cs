using Microsoft.Extensions.Options;
using Retro.Api.Infrastructure;
using Retro.Api.Options;
using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Cpu;
using Retro.Engine.Models;
using Retro.Engine.Onnx;

namespace Retro.Api.Hosting;

/// <summary>The service's models: the folders of <c>Retro:Models</c> (against the repository root) on the engine of <c>Retro:Engine</c>.</summary>
internal static class ServiceModels
{
    /// <summary>Loads them once, at start-up; the container disposes them (unmaps the checkpoints, releases the sessions).</summary>
    public static RetroModels Load(IServiceProvider services)
    {
        var models = services.GetRequiredService<IOptions<ModelOptions>>().Value;
        var paths = services.GetRequiredService<RepositoryPaths>();
        var folders = new ModelOptions
        {
            Encoder = paths.Resolve(models.Encoder),
            Reranker = string.IsNullOrWhiteSpace(models.Reranker) ? null : paths.Resolve(models.Reranker),
            Decoder = paths.Resolve(models.Decoder),
        };
        var engine = Engine(services.GetRequiredService<IOptions<EngineOptions>>().Value);
        return RetroModels.Load(folders, engine, decoderBatch: services.GetRequiredService<IOptions<ServiceOptions>>().Value.DecoderBatchSize);
    }

    /// <summary>The managed CPU backend, or ONNX Runtime on the CPU or CUDA execution provider.</summary>
    private static IModelEngine Engine(EngineOptions options) => options.Backend == EngineBackend.Onnx
        ? new OnnxSessionFactory(string.Equals(options.Device, "cuda", StringComparison.OrdinalIgnoreCase) ? OnnxDevice.Cuda : OnnxDevice.Cpu, options.Threads)
        : new ManagedEngine(new CpuBackend(options.Threads));
}
