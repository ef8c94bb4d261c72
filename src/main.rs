//! `terraform-provider-chartreg`: the plugin binary Terraform starts.

fn main() -> anyhow::Result<()> {
    // tf-provider appends a backtrace to every diagnostic when RUST_BACKTRACE is set.
    std::env::remove_var("RUST_BACKTRACE");
    std::env::remove_var("RUST_LIB_BACKTRACE");
    // Ctrl-C reaches the plugin too: Terraform drives the shutdown (see serve.rs); ignored until
    // the runtime runs...
    chartreg::serve::ignore_interrupts();
    let provider = chartreg::provider::ChartregProvider::default();
    let stop = provider.stop_token();
    chartreg::logging::init_with(chartreg::serve::stop_layer(stop.clone()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // ...and from here on it cancels the registry requests in flight (see serve.rs).
        chartreg::serve::cancel_on_interrupt(stop)?;
        chartreg::serve::serve(chartreg::objects::PROVIDER_NAME, Box::new(provider)).await
    })
}
