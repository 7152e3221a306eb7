console.log('flusher');
