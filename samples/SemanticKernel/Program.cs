// Semantic Kernel over the Retro service, in-process: a prompt function answered by the RETRO generator (its
// IChatClient), with the neighbours of each chunk as citations, and a search of the store through its
// Microsoft.Extensions.VectorData collection. Run from the repository root (the service's first start ingests the
// sample corpus into data/store):
//   dotnet run -c Release --project samples/SemanticKernel -- "What is a compiler?" [--Retro:Engine:Backend=Onnx]
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Microsoft.SemanticKernel;
using Retro.Api.Extensions;
using Retro.Core;
using Retro.VectorData;

string question = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "What is a compiler?";
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).ToArray(), ContentRootPath = Directory.GetCurrentDirectory() });
builder.AddRetroServices();
await using var service = builder.Build();
await service.StartAsync(); // loads the models, ingests the sample corpus on the first start

var kernelBuilder = Kernel.CreateBuilder();
kernelBuilder.Services.AddSingleton(service.Services.GetRequiredService<IChatClient>());
var kernel = kernelBuilder.Build();
var answer = kernel.CreateFunctionFromPrompt("{{$question}}",
    new PromptExecutionSettings { ExtensionData = new Dictionary<string, object> { ["max_tokens"] = 32, ["temperature"] = 0.0 } });
var result = await kernel.InvokeAsync(answer, new KernelArguments { ["question"] = question });
var response = result.GetValue<ChatResponse>()!;
Console.WriteLine($"Q: {question}\nA: {response.Text}");
foreach (var chunk in (IReadOnlyList<ChunkRetrievedEvent>)response.AdditionalProperties!["retro.chunks"]!)
    foreach (var n in chunk.Neighbours)
        Console.WriteLine($"  [chunk {chunk.ChunkIndex}] {n.Chunk.Url}: {n.Chunk.Text.ReplaceLineEndings(" ")[..Math.Min(80, n.Chunk.Text.Length)]}");

var collection = service.Services.GetRequiredService<VectorStoreCollection<Guid, ChunkRecord>>();
Console.WriteLine("Nearest chunks (VectorData collection):");
await foreach (var hit in collection.SearchAsync(question, top: 3))
    Console.WriteLine($"  {hit.Score:F3} {hit.Record.Url}");
await service.StopAsync();
