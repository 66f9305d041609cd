using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;

namespace Retro.Api.Tests;

public sealed class StartupTests
{
    [Fact]
    public void A_missing_model_folder_stops_the_start_with_a_message_naming_the_setting()
    {
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Retro:Models:Encoder", Repo.Fixture("bert-tiny"));
            b.UseSetting("Retro:Models:Reranker", Repo.Fixture("cross-tiny"));
            b.UseSetting("Retro:Models:Decoder", "/nonexistent/retro");
        });
        var error = Should.Throw<OptionsValidationException>(() => factory.CreateClient());
        error.Message.ShouldContain("Retro:Models:Decoder");
        error.Message.ShouldContain("/nonexistent/retro");
        error.Message.ShouldContain("Retro__Models__Decoder");
    }

    [Fact]
    public void Invalid_limits_stop_the_start_with_a_message()
    {
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Retro:Models:Encoder", Repo.Fixture("bert-tiny"));
            b.UseSetting("Retro:Models:Decoder", Repo.Fixture("retro-tiny"));
            b.UseSetting("Retro:Models:Reranker", "");
            b.UseSetting("Retro:Service:MaxConcurrentRequests", "0");
        });
        var error = Should.Throw<OptionsValidationException>(() => factory.CreateClient());
        error.Message.ShouldContain("MaxConcurrentRequests");
    }
}
