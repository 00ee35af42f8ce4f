// Command sluice is the progressive-delivery engine: server, demo and CLI in one binary.
package main

func main() {}
