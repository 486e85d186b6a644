// Spyglass behaviour
